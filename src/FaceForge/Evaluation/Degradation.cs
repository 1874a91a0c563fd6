using System.Globalization;
using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Imaging;
using FaceForge.Occlusion;

namespace FaceForge.Evaluation;

/// <summary>The image degradations of the quality study.</summary>
public enum DegradationKind
{
    /// <summary>Gaussian blur; level = sigma as a fraction of the eye distance (so faces of every size blur alike).</summary>
    Blur,
    /// <summary>Down-and-up scaling; level = the eye distance in pixels at the low resolution.</summary>
    Downscale,
    /// <summary>JPEG compression; level = the JPEG quality (lower is worse).</summary>
    Jpeg,
    /// <summary>Darkening by a gamma curve, v' = 255 (v/255)^level.</summary>
    Darken,
    /// <summary>A face-mask overlay painted over the lower face by the landmarks; level 1 covers mouth and chin, 2 up to between nose and mouth, 3 the nose too.</summary>
    Mask,
}

/// <summary>One degradation at one severity, applied to a photo before alignment. Immutable; thread-safe.</summary>
/// <param name="Kind">What is done.</param>
/// <param name="Level">How much, in the kind's own unit (see <see cref="DegradationKind"/>).</param>
/// <param name="Severity">Rank of this level within its kind, 1 = mildest (0 is the clean image).</param>
public sealed record Degradation(DegradationKind Kind, double Level, int Severity)
{
    /// <summary>A name such as "blur 0.08" or "jpeg 10".</summary>
    public string Name => $"{Kind.ToString().ToLowerInvariant()} {Level.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The study's severities: blur sigma 0.04, 0.08, 0.12 of the eye distance; eye distance scaled to 32, 24, 16, 12, 8
    /// pixels; JPEG quality 30, 20, 10; gamma 1.5, 2.5, 3.5; masks 1, 2, 3. Downscaling goes further than the rest
    /// because the aligned crops themselves have about 35 pixels between the eyes: 32 hardly changes what a model
    /// sees, and a 112-pixel model still recognises LFW's faces at 16 (docs/benchmarks.md, "Face quality").
    /// </summary>
    public static IReadOnlyList<Degradation> Study { get; } =
    [
        .. Levels(DegradationKind.Blur, 0.04, 0.08, 0.12),
        .. Levels(DegradationKind.Downscale, 32, 24, 16, 12, 8),
        .. Levels(DegradationKind.Jpeg, 30, 20, 10),
        .. Levels(DegradationKind.Darken, 1.5, 2.5, 3.5),
        .. Levels(DegradationKind.Mask, 1, 2, 3),
    ];

    private static IEnumerable<Degradation> Levels(DegradationKind kind, params double[] levels) => levels.Select((l, i) => new Degradation(kind, l, i + 1));

    /// <summary>The degraded copy of <paramref name="image"/>, whose face has <paramref name="landmarks"/>; masks need <paramref name="masks"/> (RGBA overlays, one chosen by <paramref name="variant"/>).</summary>
    public RgbImage Apply(RgbImage image, FaceLandmarks landmarks, IReadOnlyList<MaskOverlay>? masks = null, int variant = 0)
    {
        if (Kind != DegradationKind.Mask) return Apply(image, Vector2.Distance(landmarks.LeftEye, landmarks.RightEye));
        if (masks is not { Count: > 0 }) throw new ArgumentException("Mask degradation needs at least one mask overlay.", nameof(masks));
        return masks[Math.Abs(variant) % masks.Count].Paint(image, landmarks, (int)Level);
    }

    /// <summary>The degraded copy of <paramref name="image"/> for a face whose eyes are <paramref name="eyeDistance"/> pixels apart (every kind but masks).</summary>
    internal RgbImage Apply(RgbImage image, float eyeDistance)
    {
        float eyes = Math.Max(1, eyeDistance);
        switch (Kind)
        {
            case DegradationKind.Blur:
                return GaussianBlur(image, (float)(Level * eyes));
            case DegradationKind.Downscale:
                double factor = Math.Min(1, Level / eyes);
                var small = ImageResizer.Resize(image, Math.Max(1, (int)Math.Round(image.Width * factor)), Math.Max(1, (int)Math.Round(image.Height * factor)));
                return ImageResizer.Resize(small, image.Width, image.Height);
            case DegradationKind.Jpeg:
                return ImageDecoder.Decode(ImageEncoder.EncodeJpeg(image, (int)Level), "jpeg");
            case DegradationKind.Darken:
                var lut = Enumerable.Range(0, 256).Select(v => (byte)Math.Round(255 * Math.Pow(v / 255.0, Level))).ToArray();
                var dark = image.Clone();
                for (int i = 0; i < dark.Pixels.Length; i++) dark.Pixels[i] = lut[dark.Pixels[i]];
                return dark;
            default:
                throw new InvalidOperationException("A mask is painted by the landmarks: use Apply(image, landmarks, masks).");
        }
    }

    /// <summary>Separable Gaussian blur (kernel radius 3 sigma, edges clamped).</summary>
    private static RgbImage GaussianBlur(RgbImage image, float sigma)
    {
        if (sigma < 0.3f) return image.Clone();
        int radius = (int)Math.Ceiling(3 * sigma);
        var kernel = Enumerable.Range(-radius, 2 * radius + 1).Select(x => Math.Exp(-x * x / (2.0 * sigma * sigma))).ToArray();
        double total = kernel.Sum();
        var weights = kernel.Select(k => (float)(k / total)).ToArray();
        int w = image.Width, h = image.Height;
        var source = image.Pixels.ToArray();
        var temp = new float[source.Length];
        Parallel.For(0, h, y =>
        {
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    float sum = 0;
                    for (int k = -radius; k <= radius; k++) sum += weights[k + radius] * source[(y * w + Math.Clamp(x + k, 0, w - 1)) * 3 + c];
                    temp[(y * w + x) * 3 + c] = sum;
                }
        });
        var result = new byte[source.Length];
        Parallel.For(0, h, y =>
        {
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    float sum = 0;
                    for (int k = -radius; k <= radius; k++) sum += weights[k + radius] * temp[(Math.Clamp(y + k, 0, h - 1) * w + x) * 3 + c];
                    result[(y * w + x) * 3 + c] = (byte)Math.Clamp(MathF.Round(sum), 0, 255);
                }
        });
        return new RgbImage(w, h, result);
    }
}
