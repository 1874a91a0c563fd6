namespace FaceForge.Synthesis;

/// <summary>Settings of the synthetic face generator.</summary>
public sealed record SyntheticFaceOptions
{
    /// <summary>Number of identities. <value>The default is 100.</value></summary>
    public int Identities { get; init; } = 100;

    /// <summary>Images per identity. <value>The default is 10.</value></summary>
    public int ImagesPerIdentity { get; init; } = 10;

    /// <summary>Side of the square aligned crops in pixels; the ArcFace template is scaled to it. <value>The default is 112.</value></summary>
    public int Size { get; init; } = 112;

    /// <summary>Seed: the same seed gives the same identities and images, byte for byte. <value>The default is 0.</value></summary>
    public int Seed { get; init; }

    /// <summary>Fraction of recognition images with an occluder. <value>The default is 0.15.</value></summary>
    public double OcclusionRate { get; init; } = 0.15;

    /// <summary>Fraction of scene faces with an occluder. <value>The default is 0.5.</value></summary>
    public double SceneOcclusionRate { get; init; } = 0.5;

    /// <summary>Also cover a random half (left, right, upper or lower) of every scene face: a heavy-occlusion test set. <value>The default is false.</value></summary>
    public bool SceneHeavyOcclusion { get; init; }

    /// <summary>Scene width in pixels. <value>The default is 320.</value></summary>
    public int SceneWidth { get; init; } = 320;

    /// <summary>Scene height in pixels. <value>The default is 240.</value></summary>
    public int SceneHeight { get; init; } = 240;

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Identities < 1) throw new ArgumentException($"Identities must be at least 1 (got {Identities}).", nameof(Identities));
        if (ImagesPerIdentity < 1) throw new ArgumentException($"ImagesPerIdentity must be at least 1 (got {ImagesPerIdentity}).", nameof(ImagesPerIdentity));
        if (Size is < 32 or > 1024) throw new ArgumentException($"Size must be between 32 and 1024 pixels (got {Size}).", nameof(Size));
        if (OcclusionRate is < 0 or > 1) throw new ArgumentException($"OcclusionRate must be in [0, 1] (got {OcclusionRate}).", nameof(OcclusionRate));
        if (!(SceneOcclusionRate >= 0 && SceneOcclusionRate <= 1)) throw new ArgumentException($"The scene occlusion rate must be in [0, 1] (got {SceneOcclusionRate}).");
        if ((long)Identities * ImagesPerIdentity > 10_000_000) throw new ArgumentException($"{Identities} identities x {ImagesPerIdentity} images is more than 10 million images.");
        if (SceneWidth < 64 || SceneHeight < 64) throw new ArgumentException($"Scenes must be at least 64x64 (got {SceneWidth}x{SceneHeight}).", nameof(SceneWidth));
    }
}
