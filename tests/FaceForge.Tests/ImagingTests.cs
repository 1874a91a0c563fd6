using FaceForge.Imaging;
using SkiaSharp;
using Xunit;

namespace FaceForge.Tests;

public class ImagingTests
{
    private static RgbImage Gradient(int w, int h)
    {
        var image = new RgbImage(w, h);
        var p = image.Pixels;
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int o = (y * w + x) * 3;
            p[o] = (byte)(x * 255 / (w - 1)); p[o + 1] = (byte)(y * 255 / (h - 1)); p[o + 2] = (byte)((x + y) % 256);
        }
        return image;
    }

    [Fact]
    public void PngRoundTripIsExact()
    {
        var image = Gradient(17, 9);
        var decoded = ImageDecoder.Decode(ImageEncoder.EncodePng(image), "t.png");
        Assert.Equal(17, decoded.Width);
        Assert.Equal(9, decoded.Height);
        Assert.Equal(image.Pixels.ToArray(), decoded.Pixels.ToArray());
    }

    [Fact]
    public void JpegRoundTripIsClose()
    {
        var image = Gradient(32, 32);
        var decoded = ImageDecoder.Decode(ImageEncoder.EncodeJpeg(image, 95), "t.jpg");
        double error = 0;
        for (int i = 0; i < image.Pixels.Length; i++) error += Math.Abs(image.Pixels[i] - decoded.Pixels[i]);
        // JPEG at quality 95 on a smooth gradient: mean absolute error of a few grey levels at most.
        Assert.True(error / image.Pixels.Length < 4, $"mean abs error {error / image.Pixels.Length}");
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Webp)]
    [InlineData(SKEncodedImageFormat.Png)]
    public void SkiaFormatsDecode(SKEncodedImageFormat format)
    {
        using var bitmap = ImageEncoder.ToBitmap(Gradient(8, 6));
        using var data = bitmap.Encode(format, 100);
        var decoded = ImageDecoder.Decode(data.ToArray(), "t");
        Assert.Equal((8, 6), (decoded.Width, decoded.Height));
    }

    [Fact]
    public void BmpDecodes()
    {
        // 2x1 24-bit BMP: rows bottom-up, BGR, padded to 4 bytes.
        byte[] pixels = [0, 0, 255, 0, 255, 0, 0, 0];
        var bmp = new List<byte>();
        bmp.AddRange("BM"u8.ToArray()); bmp.AddRange(BitConverter.GetBytes(54 + pixels.Length)); bmp.AddRange(new byte[4]); bmp.AddRange(BitConverter.GetBytes(54));
        bmp.AddRange(BitConverter.GetBytes(40)); bmp.AddRange(BitConverter.GetBytes(2)); bmp.AddRange(BitConverter.GetBytes(1));
        bmp.AddRange(BitConverter.GetBytes((short)1)); bmp.AddRange(BitConverter.GetBytes((short)24)); bmp.AddRange(new byte[24]);
        bmp.AddRange(pixels);
        var image = ImageDecoder.Decode(bmp.ToArray(), "t.bmp");
        Assert.Equal(new byte[] { 255, 0, 0, 0, 255, 0 }, image.Pixels.ToArray());
    }

    [Fact]
    public void GifDecodesFirstFrame()
    {
        // 1x1 GIF89a whose only pixel is palette entry 0 = (255, 0, 0).
        byte[] gif = Convert.FromHexString("47494638396101000100800000FF000000000021F90400000000002C00000000010001000002024401003B");
        var image = ImageDecoder.Decode(gif, "t.gif");
        Assert.Equal(new byte[] { 255, 0, 0 }, image.Pixels.ToArray());
    }

    [Fact]
    public void GreyPngBecomesThreeEqualChannels()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(4, 4, SKColorType.Gray8, SKAlphaType.Opaque));
        bitmap.Erase(new SKColor(90, 90, 90));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var image = ImageDecoder.Decode(data.ToArray(), "grey.png");
        Assert.All(image.Pixels.ToArray(), v => Assert.Equal(90, v));
    }

    [Theory]
    [InlineData("P2\n# comment\n2 1\n255\n0 255\n", new byte[] { 0, 0, 0, 255, 255, 255 })]
    [InlineData("P3\n1 1\n100\n100 50 0\n", new byte[] { 255, 128, 0 })]
    public void PlainNetpbmDecodes(string text, byte[] expected)
    {
        Assert.Equal(expected, ImageDecoder.Decode(System.Text.Encoding.ASCII.GetBytes(text), "t.pnm").Pixels.ToArray());
    }

    [Fact]
    public void BinaryNetpbmDecodes()
    {
        byte[] p5 = [.. "P5 2 1 255\n"u8.ToArray(), 10, 200];
        Assert.Equal(new byte[] { 10, 10, 10, 200, 200, 200 }, ImageDecoder.Decode(p5, "t.pgm").Pixels.ToArray());
        byte[] p6 = [.. "P6\n1 1\n65535\n"u8.ToArray(), 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x00];
        Assert.Equal(new byte[] { 255, 0, 128 }, ImageDecoder.Decode(p6, "t.ppm").Pixels.ToArray());
    }

    [Fact]
    public void ExifOrientationSixRotatesClockwise()
    {
        // 2x1 image [A B] displayed with orientation 6 becomes a 1x2 column A over B.
        var image = new RgbImage(2, 1, [1, 1, 1, 2, 2, 2]);
        var upright = ImageDecoder.Orient(image, 6);
        Assert.Equal((1, 2), (upright.Width, upright.Height));
        Assert.Equal(new byte[] { 1, 1, 1, 2, 2, 2 }, upright.Pixels.ToArray());
        var mirrored = ImageDecoder.Orient(image, 2);
        Assert.Equal(new byte[] { 2, 2, 2, 1, 1, 1 }, mirrored.Pixels.ToArray());
        var rotated = ImageDecoder.Orient(image, 8);
        Assert.Equal(new byte[] { 2, 2, 2, 1, 1, 1 }, rotated.Pixels.ToArray());
    }

    [Fact]
    public void JpegExifOrientationIsApplied()
    {
        byte[] jpeg = ImageEncoder.EncodeJpeg(Gradient(40, 20));
        // APP1 Exif segment: little-endian TIFF, one IFD entry, Orientation (0x0112) = 6, i.e. rotate 90° clockwise.
        byte[] tiff = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0];
        byte[] payload = [.. "Exif\0\0"u8.ToArray(), .. tiff];
        int length = payload.Length + 2;
        byte[] withExif = [0xFF, 0xD8, 0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload, .. jpeg[2..]];
        var image = ImageDecoder.Decode(withExif, "exif.jpg");
        Assert.Equal((20, 40), (image.Width, image.Height));
    }

    [Fact]
    public void TruncatedJpegIsNamed()
    {
        byte[] jpeg = ImageEncoder.EncodeJpeg(Gradient(64, 64));
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(jpeg[..(jpeg.Length / 2)], "faces/a.jpg"));
        Assert.Contains("faces/a.jpg", e.Message);
    }

    [Fact]
    public void CorruptPngIsNamed()
    {
        byte[] png = ImageEncoder.EncodePng(Gradient(64, 64));
        for (int i = 40; i < png.Length - 20; i++) png[i] ^= 0x5A;
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(png, "b.png"));
        Assert.Contains("b.png", e.Message);
    }

    [Fact]
    public void TextFileNamedJpgIsRejected()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("img"), "notes.jpg");
        File.WriteAllText(path, "this is not an image");
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(path));
        Assert.Contains("notes.jpg", e.Message);
        Assert.Contains("not a supported image", e.Message);
    }

    [Fact]
    public void UnsupportedFormatIsRejected()
    {
        byte[] tiff = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0, 0, 0];
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(tiff, "scan.tif"));
        Assert.Contains("scan.tif", e.Message);
    }

    [Fact]
    public void TruncatedNetpbmIsNamed()
    {
        byte[] p6 = [.. "P6 4 4 255\n"u8.ToArray(), 1, 2, 3];
        Assert.Contains("t.ppm", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(p6, "t.ppm")).Message);
    }

    [Fact]
    public void ResizeKeepsConstantImageConstant()
    {
        var image = new RgbImage(10, 7);
        image.Pixels.Fill(77);
        Assert.All(ImageResizer.Resize(image, 23, 5).Pixels.ToArray(), v => Assert.Equal(77, v));
    }
}
