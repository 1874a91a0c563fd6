using FaceForge.Imaging;

namespace FaceForge.Detection;

/// <summary>
/// Brightens an underexposed photo for a detector's eyes only. Detectors are trained on photos that use the range of
/// levels; in a photo taken in poor light the faces lie in the bottom few levels, where RetinaFace finds fewer of them
/// and misplaces the landmarks of those it finds. The measure is each pixel's brightest channel (so a photo lit red
/// is not taken for dark: its red channel is full): when the 99th percentile of it stays below mid-grey
/// (<see cref="DarkWhitePoint"/>), one linear curve for the three channels lifts that white point towards
/// <see cref="TargetWhite"/> and its black point (0.5th percentile, at most half the white one) towards 0, the gain capped at <see cref="MaxGain"/>
/// so an almost black photo's noise is not blown up. The stretch grows from nothing at mid-grey to in full at a
/// quarter (<see cref="FullStretchWhitePoint"/>), so a photo a shade brighter or darker gets nearly the same input.
/// Photos with a bright part are returned as they are: well-lit photos reach the detector as before, bit for bit.
/// Recognition sees the original pixels: only where the faces are looked for changes.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class DarkPhotoStretch
{
    /// <summary>A photo is dark when the 99th percentile of its pixels' brightest channel is below this (mid-grey, of 255).</summary>
    public const int DarkWhitePoint = 128;

    /// <summary>At this white point and below the stretch applies in full.</summary>
    public const int FullStretchWhitePoint = 64;

    /// <summary>The level the white point is brought to in full (below 255, so the brightest one per cent is not all clipped).</summary>
    public const int TargetWhite = 230;

    /// <summary>The largest gain applied (four stops).</summary>
    public const float MaxGain = 16;

    /// <summary>Pixels sampled for the histogram, at most (a regular grid over the photo).</summary>
    private const int Samples = 1 << 16;

    /// <summary>The photo itself when it is not dark, else a brightened copy (same size).</summary>
    public static RgbImage Apply(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (Curve(image) is not { } curve) return image;
        var result = new RgbImage(image.Width, image.Height);
        ReadOnlySpan<byte> from = image.Pixels;
        var to = result.Pixels;
        for (int i = 0; i < from.Length; i++) to[i] = curve[from[i]];
        return result;
    }

    /// <summary>The level curve for <paramref name="image"/>, or null when it is not dark.</summary>
    internal static byte[]? Curve(RgbImage image)
    {
        var (black, white) = Levels(image);
        if (white >= DarkWhitePoint) return null;
        // How far to go: 0 at mid-grey, 1 at FullStretchWhitePoint and below.
        float strength = Math.Clamp((float)(DarkWhitePoint - white) / (DarkWhitePoint - FullStretchWhitePoint), 0, 1);
        // The black point at most half the white one: a dark photo of little contrast (night fog) is not stretched to black.
        float from = strength * Math.Min(black, white / 2f), to = white + strength * (TargetWhite - white);
        float gain = MathF.Min(MaxGain, to / MathF.Max(1, white - from));
        var curve = new byte[256];
        for (int v = 0; v < 256; v++) curve[v] = (byte)Math.Clamp((int)MathF.Round((v - from) * gain), 0, 255);
        return curve;
    }

    /// <summary>The 0.5th and 99th percentiles of the pixels' brightest channel over a grid of at most <see cref="Samples"/> pixels.</summary>
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
                histogram[Math.Max(pixels[p], Math.Max(pixels[p + 1], pixels[p + 2]))]++;
                count++;
            }
        return (Percentile(histogram, count, 0.005), Percentile(histogram, count, 0.99));
    }

    private static int Percentile(ReadOnlySpan<int> histogram, int count, double fraction)
    {
        long rank = Math.Max(1, (long)Math.Ceiling(fraction * count)), seen = 0;
        for (int v = 0; v < 256; v++)
            if ((seen += histogram[v]) >= rank) return v;
        return 255;
    }
}
