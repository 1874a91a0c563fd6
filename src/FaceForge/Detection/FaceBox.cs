namespace FaceForge.Detection;

/// <summary>An axis-aligned box in pixel coordinates (left, top, right, bottom; right and bottom exclusive in spirit, as floats).</summary>
public readonly record struct FaceBox(float Left, float Top, float Right, float Bottom)
{
    /// <summary>Width (never negative).</summary>
    public float Width => MathF.Max(0, Right - Left);

    /// <summary>Height (never negative).</summary>
    public float Height => MathF.Max(0, Bottom - Top);

    /// <summary>Area.</summary>
    public float Area => Width * Height;

    /// <summary>Centre point.</summary>
    public System.Numerics.Vector2 Centre => new((Left + Right) / 2, (Top + Bottom) / 2);

    /// <summary>Intersection over union with <paramref name="other"/>, in [0, 1].</summary>
    public float IoU(FaceBox other)
    {
        float w = MathF.Min(Right, other.Right) - MathF.Max(Left, other.Left);
        float h = MathF.Min(Bottom, other.Bottom) - MathF.Max(Top, other.Top);
        if (w <= 0 || h <= 0) return 0;
        float intersection = w * h;
        return intersection / (Area + other.Area - intersection);
    }

    /// <summary>The box scaled by <paramref name="factor"/> about the origin (to map detections back from a resized image).</summary>
    public FaceBox Scale(float factor) => new(Left * factor, Top * factor, Right * factor, Bottom * factor);
}
