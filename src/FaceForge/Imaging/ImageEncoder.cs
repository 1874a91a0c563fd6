using SkiaSharp;

namespace FaceForge.Imaging;

/// <summary>Encodes <see cref="RgbImage"/> as PNG or JPEG. Stateless and thread-safe.</summary>
public static class ImageEncoder
{
    /// <summary>
    /// PNG bytes of <paramref name="image"/>, at zlib level 1: 1.7 ms against 2.7 ms a 112x112 face at Skia's default
    /// level 6, for 5 % more bytes (the demo writes 6,600 of them).
    /// </summary>
    public static byte[] EncodePng(RgbImage image)
    {
        using var bitmap = ToBitmap(image);
        using var pixels = bitmap.PeekPixels();
        using var data = pixels.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, zLibLevel: 1))
            ?? throw new InvalidOperationException($"Skia could not encode a {image.Width}x{image.Height} image as PNG.");
        return data.ToArray();
    }

    /// <summary>JPEG bytes of <paramref name="image"/> at <paramref name="quality"/> (1 to 100).</summary>
    public static byte[] EncodeJpeg(RgbImage image, int quality = 95)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        return Encode(image, SKEncodedImageFormat.Jpeg, quality);
    }

    /// <summary>
    /// Writes PNG or JPEG according to the extension of <paramref name="path"/>, through a temporary file; with
    /// <paramref name="flush"/> false the bytes may still be in the page cache (see <see cref="AtomicFile.WriteAllBytes(string, byte[], bool)"/>).
    /// </summary>
    public static void Save(RgbImage image, string path, bool flush = true)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        byte[] bytes = extension switch
        {
            ".png" => EncodePng(image),
            ".jpg" or ".jpeg" => EncodeJpeg(image),
            _ => throw new ArgumentException($"Cannot save '{path}': use a .png, .jpg or .jpeg extension.", nameof(path)),
        };
        AtomicFile.WriteAllBytes(path, bytes, flush);
    }

    private static byte[] Encode(RgbImage image, SKEncodedImageFormat format, int quality)
    {
        using var bitmap = ToBitmap(image);
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>An opaque RGBA Skia bitmap copy of <paramref name="image"/>; caller disposes.</summary>
    internal static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgb = image.Buffer;
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    /// <summary>Reads an RGBA Skia bitmap back into an <see cref="RgbImage"/>, dropping alpha.</summary>
    internal static RgbImage FromBitmap(SKBitmap bitmap)
    {
        if (bitmap.ColorType != SKColorType.Rgba8888)
            throw new ArgumentException("Expected an RGBA8888 bitmap.", nameof(bitmap));
        var rgba = new byte[bitmap.Width * bitmap.Height * 4];
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), rgba, 0, rgba.Length);
        return FromRgba(bitmap.Width, bitmap.Height, rgba);
    }

    /// <summary>Drops the alpha channel of tightly packed RGBA bytes.</summary>
    internal static RgbImage FromRgba(int width, int height, ReadOnlySpan<byte> rgba)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(width, height, rgb);
    }
}
