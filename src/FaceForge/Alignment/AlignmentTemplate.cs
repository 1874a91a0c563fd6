using System.Numerics;

namespace FaceForge.Alignment;

/// <summary>Where the five landmarks should land in an aligned crop of a given size. Per model, not global.</summary>
/// <param name="Name">Short name, as stored in model files and accepted on the command line.</param>
/// <param name="Width">Crop width in pixels.</param>
/// <param name="Height">Crop height in pixels.</param>
/// <param name="Points">Target landmarks in crop pixel coordinates.</param>
public sealed record AlignmentTemplate(string Name, int Width, int Height, FaceLandmarks Points)
{
    /// <summary>InsightFace/ArcFace 112x112 template.</summary>
    public static AlignmentTemplate ArcFace112 { get; } = new("arcface-112x112", 112, 112, new(
        new Vector2(38.2946f, 51.6963f), new Vector2(73.5318f, 51.5014f), new Vector2(56.0252f, 71.7366f),
        new Vector2(41.5493f, 92.3655f), new Vector2(70.7299f, 92.2041f)));

    /// <summary>SphereFace-style 112x96 template: the ArcFace template shifted 8 px left.</summary>
    public static AlignmentTemplate SphereFace112x96 { get; } = new("sphereface-112x96", 96, 112,
        ArcFace112.Points.Select(p => new Vector2(p.X - 8, p.Y)));

    /// <summary>The known templates.</summary>
    public static IReadOnlyList<AlignmentTemplate> All { get; } = [ArcFace112, SphereFace112x96];

    /// <summary>Whether <paramref name="width"/> x <paramref name="height"/> is a known template's own crop size (112x112, 96x112): what a pack of aligned crops holds, unlike a photo.</summary>
    public static bool IsCropSize(int width, int height) => All.Any(t => t.Width == width && t.Height == height);

    /// <summary>Whether a <paramref name="width"/> x <paramref name="height"/> crop has this template's proportions.</summary>
    internal bool HasProportions(int width, int height) => (long)width * Height == (long)height * Width;

    /// <summary>The first known template with a <paramref name="width"/> x <paramref name="height"/> crop's proportions, or null.</summary>
    internal static AlignmentTemplate? OfProportions(int width, int height) => All.FirstOrDefault(t => t.HasProportions(width, height));

    /// <summary>Finds a template by <see cref="Name"/>.</summary>
    public static AlignmentTemplate FromName(string name) =>
        All.FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown alignment template '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.", nameof(name));

    /// <summary>This template scaled to a square-proportional crop <paramref name="factor"/> times larger.</summary>
    public AlignmentTemplate Scale(float factor) =>
        this with { Name = $"{Name}@{factor:g}", Width = (int)MathF.Round(Width * factor), Height = (int)MathF.Round(Height * factor), Points = Points.Select(p => p * factor) };
}
