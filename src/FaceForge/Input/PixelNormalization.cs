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

    /// <summary>Writes <paramref name="image"/> normalised, channels first (3 x H x W, RGB), into <paramref name="destination"/>.</summary>
    public void WriteChannelsFirst(Imaging.RgbImage image, Span<float> destination)
    {
        int plane = image.Width * image.Height;
        if (destination.Length < 3 * plane)
            throw new ArgumentException($"Destination holds {destination.Length} floats; 3 x {image.Width} x {image.Height} needs {3 * plane}.", nameof(destination));
        ReadOnlySpan<byte> rgb = image.Pixels;
        float scale = 1f / Std;
        for (int p = 0; p < plane; p++)
        {
            destination[p] = (rgb[3 * p] - Mean) * scale;
            destination[plane + p] = (rgb[3 * p + 1] - Mean) * scale;
            destination[2 * plane + p] = (rgb[3 * p + 2] - Mean) * scale;
        }
    }
}
