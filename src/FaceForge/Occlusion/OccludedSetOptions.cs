namespace FaceForge.Occlusion;

/// <summary>What <see cref="OccludedSetWriter"/> writes from pseudo-labelled real faces.</summary>
public sealed record OccludedSetOptions
{
    /// <summary>Occluders drawn from, uniformly; empty: none painted (a clean copy, e.g. the clean test set).</summary>
    public IReadOnlyList<OcclusionKind> Kinds { get; init; } = OcclusionKinds.All;

    /// <summary>Face-mask pictures for <see cref="OcclusionKind.Mask"/> (required when that kind is drawn).</summary>
    public IReadOnlyList<MaskOverlay> Overlays { get; init; } = [];

    /// <summary>Share of faces that get an occluder.</summary>
    public double OcclusionRate { get; init; } = 0.5;

    /// <summary>
    /// Composite images to write: each a grid of 1x1, 2x2 or 3x3 random crops of the source images at random scale
    /// and lighting, so faces come at many sizes and several per image. 0: each source image is written as it is
    /// (with its occluders), under its own relative path.
    /// </summary>
    public int Composites { get; init; }

    /// <summary>Composite width in pixels.</summary>
    public int Width { get; init; } = 320;

    /// <summary>Composite height in pixels.</summary>
    public int Height { get; init; } = 240;

    /// <summary>Seed of every random choice (occluders, crops, lighting).</summary>
    public int Seed { get; init; }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (OcclusionRate is < 0 or > 1 || double.IsNaN(OcclusionRate)) throw new ArgumentException($"The occlusion rate must be in [0, 1] (got {OcclusionRate}).");
        if (Composites < 0) throw new ArgumentException($"The composite count must be non-negative (got {Composites}).");
        if (Width is < 32 or > 4096 || Height is < 32 or > 4096) throw new ArgumentException($"The composite size must be within 32-4096 pixels a side (got {Width}x{Height}).");
        if (Kinds.Contains(OcclusionKind.Mask) && Overlays.Count == 0 && OcclusionRate > 0) throw new ArgumentException("Mask occluders need at least one mask overlay.");
    }
}
