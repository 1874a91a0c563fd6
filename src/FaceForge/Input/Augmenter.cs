using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Evaluation;
using FaceForge.Imaging;
using FaceForge.Occlusion;

namespace FaceForge.Input;

/// <summary>Applies <see cref="AugmentationOptions"/> to one image with a caller-provided random source.</summary>
internal static class Augmenter
{
    /// <param name="image">The crop.</param>
    /// <param name="options">What to apply.</param>
    /// <param name="random">This sample's draws.</param>
    /// <param name="template">The crop's alignment frame, which places occluders; null for a crop of no known template (its proportions pick one).</param>
    public static RgbImage Apply(RgbImage image, AugmentationOptions options, Random random, AlignmentTemplate? template = null)
    {
        if (random.NextDouble() < options.FlipProbability) image = image.FlipHorizontal();
        if (random.NextDouble() < options.DownscaleProbability)
        {
            double factor = 0.25 + 0.75 * random.NextDouble();
            int w = Math.Max(1, (int)(image.Width * factor)), h = Math.Max(1, (int)(image.Height * factor));
            image = ImageResizer.Resize(ImageResizer.Resize(image, w, h), image.Width, image.Height);
        }
        if (random.NextDouble() < options.BlurProbability) image = BoxBlur(image);
        // Drawn only when asked for, so the draws after it (colour, grey) stay those of runs made before it existed.
        if (options.DegradeProbability > 0 && random.NextDouble() < options.DegradeProbability) image = Degrade(image, random);
        if (options.OcclusionProbability > 0 && random.NextDouble() < options.OcclusionProbability) image = Occlude(image, options, random, template);
        if (random.NextDouble() < options.ColorJitterProbability) image = Jitter(image, random);
        if (random.NextDouble() < options.GrayProbability) image = Gray(image);
        return image;
    }

    /// <summary>
    /// One of the quality study's photometric kinds (<see cref="Degradation"/>) at a severity drawn uniformly from
    /// barely visible to a little past the study's heaviest: blur sigma 0.01-0.15 of the eye distance, 10-30 pixels
    /// between the eyes, JPEG quality 8-60, gamma 1.2-4. The crop is an aligned face, so its eye distance is taken as a
    /// third of its width (the templates put it at 0.31-0.37).
    /// </summary>
    internal static RgbImage Degrade(RgbImage image, Random random)
    {
        int kind = random.Next(4);
        double u = random.NextDouble();
        var degradation = kind switch
        {
            0 => new Degradation(DegradationKind.Blur, 0.01 + 0.14 * u, 0),
            1 => new Degradation(DegradationKind.Downscale, 10 + 20 * u, 0),
            2 => new Degradation(DegradationKind.Jpeg, Math.Round(8 + 52 * u), 0),
            _ => new Degradation(DegradationKind.Darken, 1.2 + 2.8 * u, 0),
        };
        return degradation.Apply(image, image.Width / 3f);
    }

    /// <summary>A copy of the aligned crop with one occluder painted by the template's points, scaled to the crop's size.</summary>
    internal static RgbImage Occlude(RgbImage image, AugmentationOptions options, Random random, AlignmentTemplate? template)
    {
        var frame = template ?? AlignmentTemplate.OfProportions(image.Width, image.Height) ?? AlignmentTemplate.ArcFace112;
        float sx = image.Width / (float)frame.Width, sy = image.Height / (float)frame.Height;
        var points = frame.Points.Select(p => new System.Numerics.Vector2(p.X * sx, p.Y * sy));
        var kind = options.Occluders[random.Next(options.Occluders.Count)];
        var overlay = kind == OcclusionKind.Mask ? options.MaskOverlays![random.Next(options.MaskOverlays.Count)] : null;
        var result = image.Clone();
        OccluderPainter.Paint(result, new bool[image.Width * image.Height], new FaceBox(0, 0, image.Width, image.Height), points, kind, overlay, random);
        return result;
    }

    private static RgbImage BoxBlur(RgbImage image)
    {
        var result = new RgbImage(image.Width, image.Height);
        var s = image.Buffer;
        var d = result.Buffer;
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        for (int c = 0; c < 3; c++)
        {
            int sum = 0, n = 0;
            for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
            {
                int xx = x + dx, yy = y + dy;
                if ((uint)xx >= (uint)image.Width || (uint)yy >= (uint)image.Height) continue;
                sum += s[(yy * image.Width + xx) * 3 + c];
                n++;
            }
            d[(y * image.Width + x) * 3 + c] = (byte)((sum + n / 2) / n);
        }
        return result;
    }

    private static RgbImage Jitter(RgbImage image, Random random)
    {
        float brightness = 1 + (float)(random.NextDouble() * 0.4 - 0.2);
        float contrast = 1 + (float)(random.NextDouble() * 0.4 - 0.2);
        float saturation = 1 + (float)(random.NextDouble() * 0.4 - 0.2);
        var result = image.Clone();
        var p = result.Buffer;
        double mean = 0;
        for (int i = 0; i < p.Length; i++) mean += p[i];
        float m = (float)(mean / p.Length);
        for (int i = 0; i < p.Length; i += 3)
        {
            float grey = 0.299f * p[i] + 0.587f * p[i + 1] + 0.114f * p[i + 2];
            for (int c = 0; c < 3; c++)
            {
                float v = grey + (p[i + c] - grey) * saturation;
                v = m + (v - m) * contrast;
                p[i + c] = (byte)Math.Clamp(v * brightness, 0, 255);
            }
        }
        return result;
    }

    private static RgbImage Gray(RgbImage image)
    {
        var result = image.Clone();
        var p = result.Buffer;
        for (int i = 0; i < p.Length; i += 3)
            p[i] = p[i + 1] = p[i + 2] = (byte)(0.299f * p[i] + 0.587f * p[i + 1] + 0.114f * p[i + 2] + 0.5f);
        return result;
    }
}
