namespace FaceForge.Imaging;

/// <summary>Bilinear resizing (pixel centres aligned, as OpenCV's INTER_LINEAR). Returns new images; never mutates.</summary>
public static class ImageResizer
{
    /// <summary>A resized copy of <paramref name="image"/>.</summary>
    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        if (image.Width == width && image.Height == height) return image.Clone();
        var result = new RgbImage(width, height);
        var src = image.Buffer;
        var dst = result.Buffer;
        float sx = image.Width / (float)width, sy = image.Height / (float)height;
        for (int y = 0; y < height; y++)
        {
            float fy = Math.Clamp((y + 0.5f) * sy - 0.5f, 0, image.Height - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, image.Height - 1);
            float wy = fy - y0;
            for (int x = 0; x < width; x++)
            {
                float fx = Math.Clamp((x + 0.5f) * sx - 0.5f, 0, image.Width - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, image.Width - 1);
                float wx = fx - x0;
                int o = (y * width + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    float top = src[(y0 * image.Width + x0) * 3 + c] * (1 - wx) + src[(y0 * image.Width + x1) * 3 + c] * wx;
                    float bottom = src[(y1 * image.Width + x0) * 3 + c] * (1 - wx) + src[(y1 * image.Width + x1) * 3 + c] * wx;
                    dst[o + c] = (byte)(top * (1 - wy) + bottom * wy + 0.5f);
                }
            }
        }
        return result;
    }
}
