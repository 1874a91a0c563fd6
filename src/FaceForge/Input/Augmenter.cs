using FaceForge.Imaging;

namespace FaceForge.Input;

/// <summary>Applies <see cref="AugmentationOptions"/> to one image with a caller-provided random source.</summary>
internal static class Augmenter
{
    public static RgbImage Apply(RgbImage image, AugmentationOptions options, Random random)
    {
        if (random.NextDouble() < options.FlipProbability) image = image.FlipHorizontal();
        if (random.NextDouble() < options.DownscaleProbability)
        {
            double factor = 0.25 + 0.75 * random.NextDouble();
            int w = Math.Max(1, (int)(image.Width * factor)), h = Math.Max(1, (int)(image.Height * factor));
            image = ImageResizer.Resize(ImageResizer.Resize(image, w, h), image.Width, image.Height);
        }
        if (random.NextDouble() < options.BlurProbability) image = BoxBlur(image);
        if (random.NextDouble() < options.ColorJitterProbability) image = Jitter(image, random);
        if (random.NextDouble() < options.GrayProbability) image = Gray(image);
        return image;
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
