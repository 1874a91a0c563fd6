namespace FaceForge.Input;

/// <summary>
/// How 8-bit pixels become network input: (x - Mean) / Std per channel. A per-model setting: ArcFace models use
/// 127.5/127.5, SphereFace-style models 127.5/128, MagFace's release raw 0..255 (mean 0, std 1).
/// </summary>
/// <param name="Mean">Subtracted from each 0..255 value.</param>
/// <param name="Std">Divisor.</param>
public readonly record struct PixelNormalization(float Mean, float Std)
{
    /// <summary>(x - 127.5) / 127.5, i.e. (x/255 - 0.5)/0.5.</summary>
    public static PixelNormalization ArcFace => new(127.5f, 127.5f);

    /// <summary>(x - 127.5) / 128.</summary>
    public static PixelNormalization SphereFace => new(127.5f, 128f);
}
