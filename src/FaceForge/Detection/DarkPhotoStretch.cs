using FaceForge.Imaging;

namespace FaceForge.Detection;

/// <summary>
/// Brightens an underexposed photo for a detector's eyes only. Detectors are trained on photos that use the range of
/// levels; in a photo taken in poor light the faces lie in the bottom few levels, where RetinaFace finds fewer of them
/// and misplaces the landmarks of those it finds. A photo whose brightest one per cent (luminance) stays below mid-grey
/// is stretched linearly, one curve for the three channels (none is lifted more than another): its black point (0.5th
/// percentile) to 0 and that white point to <see cref="TargetWhite"/>, the gain capped at <see cref="MaxGain"/> so
/// an almost black photo's noise is not blown up. Photos with any bright part are returned as they are, so well-lit
/// photos give the detector the same input as before, bit for bit. Recognition sees the original pixels: only where
/// the faces are looked for changes.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class DarkPhotoStretch
{
    /// <summary>Luminance level (0-255) the 99th percentile must stay below for a photo to count as dark (mid-grey).</summary>
    public const int DarkWhitePoint = 128;

    /// <summary>The level the white point is brought to (below 255, so the brightest one per cent is not all clipped).</summary>
    public const int TargetWhite = 230;

    /// <summary>The largest gain applied (four stops).</summary>
    public const float MaxGain = 16;

    /// <summary>Pixels sampled for the histogram, at most (a regular grid over the photo).</summary>
    private const int Samples = 1 << 16;

    /// <summary>The photo itself when it is not dark, else a brightened copy (same size).</summary>
    public static RgbImage Apply(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (black, white) = Levels(image);
        if (white >= DarkWhitePoint) return image;
        float gain = MathF.Min(MaxGain, (float)TargetWhite / Math.Max(1, white - black));
        Span<byte> curve = stackalloc byte[256];
        for (int v = 0; v < 256; v++) curve[v] = (byte)Math.Clamp((int)MathF.Round((v - black) * gain), 0, 255);
        var result = new RgbImage(image.Width, image.Height);
        ReadOnlySpan<byte> from = image.Pixels;
        var to = result.Pixels;
        for (int i = 0; i < from.Length; i++) to[i] = curve[from[i]];
        return result;
    }

    /// <summary>The 0.5th and 99th luminance percentiles over a grid of at most <see cref="Samples"/> pixels.</summary>
    internal static (int Black, int White) Levels(RgbImage image)
    {
        int step = Math.Max(1, (int)Math.Ceiling(Math.Sqrt((double)image.Width * image.Height / Samples)));
        Span<int> histogram = stackalloc int[256];
        histogram.Clear();
        ReadOnlySpan<byte> pixels = image.Pixels;
        int count = 0;
        for (int y = step / 2; y < image.Height; y += step)
            for (int x = step / 2; x < image.Width; x += step)
            {
                int p = 3 * (y * image.Width + x);
                histogram[(77 * pixels[p] + 150 * pixels[p + 1] + 29 * pixels[p + 2]) >> 8]++;
                count++;
            }
        return (Percentile(histogram, count, 0.005), Percentile(histogram, count, 0.99));
    }

    private static int Percentile(ReadOnlySpan<int> histogram, int count, double fraction)
    {
        long rank = (long)Math.Ceiling(fraction * count), seen = 0;
        for (int v = 0; v < 256; v++)
            if ((seen += histogram[v]) >= Math.Max(1, rank)) return v;
        return 255;
    }
}
