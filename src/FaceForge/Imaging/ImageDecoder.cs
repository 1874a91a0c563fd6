using SkiaSharp;

namespace FaceForge.Imaging;

/// <summary>
/// Decodes JPEG, PNG, BMP, GIF (first frame), WebP and Netpbm (P2, P3, P5, P6) into <see cref="RgbImage"/>.
/// Grey images become three equal channels, alpha is dropped, and the EXIF orientation is applied.
/// </summary>
/// <remarks>Stateless and safe to call from several threads at once. Errors are <see cref="InvalidDataException"/>
/// naming the file.</remarks>
public static class ImageDecoder
{
    /// <summary>Largest image accepted, in pixels (a guard against decompression bombs).</summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>Decodes the file at <paramref name="path"/>.</summary>
    public static RgbImage Decode(string path)
    {
        byte[] data;
        try
        {
            RequireContent(path);
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot read: {e.Message}", e);
        }
        return Decode(data, path);
    }

    /// <summary>
    /// Refuses, before opening it, a path with nothing to read: an empty file, or a named pipe or device (no length),
    /// whose opening would wait for a writer that never comes (a FIFO named photo.jpg in a folder of photos).
    /// </summary>
    internal static void RequireContent(string path)
    {
        FileSystemInfo info = new FileInfo(path);
        // A link's own length is its target's name: look at what it finally points to.
        if (info.LinkTarget is not null) info = File.ResolveLinkTarget(path, returnFinalTarget: true) ?? info;
        if (info is FileInfo { Exists: true, Length: 0 })
            throw new InvalidDataException($"{path}: empty file (0 bytes), or not a regular file (a pipe or a device).");
    }

    /// <summary>Decodes an encoded image read from <paramref name="stream"/>.</summary>
    public static RgbImage Decode(Stream stream, string name = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Decode(copy.ToArray(), name);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="name"/> is used in error messages.</summary>
    public static RgbImage Decode(ReadOnlySpan<byte> data, string name)
    {
        var format = Format(data, name);
        return format == ImageFormat.Pnm ? PnmReader.Read(data, name) : WithCodec(data, name, format, codec => DecodeWithSkia(codec, name, format));
    }

    /// <summary>Width and height of the image at <paramref name="path"/>, from its header where the format allows (no full decode).</summary>
    public static (int Width, int Height) Size(string path)
    {
        var format = ImageFormat.Unknown;
        RequireContent(path);
        using (var file = File.OpenRead(path))
        {
            Span<byte> head = stackalloc byte[16];
            format = ImageFormatSniffer.Detect(head[..file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)]);
        }
        if (format is ImageFormat.Unknown or ImageFormat.Pnm) { var decoded = Decode(path); return (decoded.Width, decoded.Height); }
        using var codec = SKCodec.Create(path) ?? throw new InvalidDataException($"{path}: corrupt {format}.");
        return OrientedSize(codec);
    }

    /// <summary>
    /// Width and height of an encoded image held in memory, read from its header (no pixels are decoded or
    /// allocated), so a service can refuse a small file that claims a huge picture before decoding it.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a supported image, or a corrupt header (named by <paramref name="name"/>).</exception>
    public static (int Width, int Height) Size(ReadOnlySpan<byte> data, string name)
    {
        var format = Format(data, name);
        return format == ImageFormat.Pnm ? PnmReader.Size(data, name) : WithCodec(data, name, format, OrientedSize);
    }

    /// <summary>The format of <paramref name="data"/>, or the error for an empty or unsupported file.</summary>
    private static ImageFormat Format(ReadOnlySpan<byte> data, string name) => ImageFormatSniffer.Detect(data) switch
    {
        ImageFormat.Unknown when data.Length == 0 => throw new InvalidDataException($"{name}: empty file."),
        ImageFormat.Unknown when ImageFormatSniffer.UnsupportedName(data) is { } known =>
            throw new InvalidDataException($"{name}: an image in {known} format, which FaceForge does not read; convert it to JPEG or PNG (supported: JPEG, PNG, BMP, GIF, WebP, PGM/PPM)."),
        ImageFormat.Unknown => throw new InvalidDataException($"{name}: not a supported image (JPEG, PNG, BMP, GIF, WebP, PGM/PPM); first bytes {Convert.ToHexString(data[..Math.Min(8, data.Length)])}."),
        var known => known,
    };

    /// <summary>Runs <paramref name="work"/> on a Skia codec over a copy of <paramref name="data"/> (the codec reads its stream lazily, so both live for the call).</summary>
    private static T WithCodec<T>(ReadOnlySpan<byte> data, string name, ImageFormat format, Func<SKCodec, T> work)
    {
        using var skData = SKData.CreateCopy(data);
        using var stream = new SKMemoryStream(skData);
        using var codec = SKCodec.Create(stream, out var createResult) ?? throw new InvalidDataException($"{name}: corrupt {format} ({createResult}).");
        return work(codec);
    }

    /// <summary>The codec's size as <see cref="Decode(ReadOnlySpan{byte}, string)"/> returns it: EXIF orientations 5-8 swap the sides.</summary>
    private static (int Width, int Height) OrientedSize(SKCodec codec) =>
        (int)codec.EncodedOrigin >= 5 ? (codec.Info.Height, codec.Info.Width) : (codec.Info.Width, codec.Info.Height);

    private static unsafe RgbImage DecodeWithSkia(SKCodec codec, string name, ImageFormat format)
    {
        var info = codec.Info;
        if ((long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException($"{name}: {info.Width}x{info.Height} exceeds the {MaxPixels}-pixel limit.");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        // The RGBA scratch is pooled: only the RGB image outlives the call.
        var rgba = System.Buffers.ArrayPool<byte>.Shared.Rent(target.BytesSize);
        try
        {
            SKCodecResult result;
            fixed (byte* pointer = rgba)
                result = codec.GetPixels(target, (IntPtr)pointer);
            if (result != SKCodecResult.Success)
            {
                string why = result == SKCodecResult.IncompleteInput ? "truncated" : result.ToString();
                throw new InvalidDataException($"{name}: corrupt {format}: {why}.");
            }
            return Orient(ImageEncoder.FromRgba(info.Width, info.Height, rgba.AsSpan(0, target.BytesSize)), (int)codec.EncodedOrigin);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rgba);
        }
    }

    /// <summary>Applies an EXIF orientation (1 to 8) so the result is upright.</summary>
    internal static RgbImage Orient(RgbImage image, int orientation)
    {
        if (orientation is <= 1 or > 8)
            return image;
        bool swap = orientation >= 5;
        int w = image.Width, h = image.Height;
        int outW = swap ? h : w, outH = swap ? w : h;
        var source = image.Buffer;
        var result = new byte[source.Length];
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                // Source coordinate that lands on (x, y) for each EXIF orientation.
                (int sx, int sy) = orientation switch
                {
                    2 => (w - 1 - x, y),
                    3 => (w - 1 - x, h - 1 - y),
                    4 => (x, h - 1 - y),
                    5 => (y, x),
                    6 => (y, h - 1 - x),
                    7 => (w - 1 - y, h - 1 - x),
                    _ => (w - 1 - y, x),
                };
                int from = (sy * w + sx) * 3, to = (y * outW + x) * 3;
                result[to] = source[from];
                result[to + 1] = source[from + 1];
                result[to + 2] = source[from + 2];
            }
        }
        return new RgbImage(outW, outH, result);
    }
}
