using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Imaging;
using SkiaSharp;

namespace FaceForge.Occlusion;

/// <summary>
/// A face-mask image with transparency (as ../shared/data/mask-overlays holds), painted over the lower face: by the
/// degradation study (<see cref="Paint"/>) and, warped in the face's frame, by <see cref="OccluderPainter"/>.
/// Immutable after loading; thread-safe (painting copies).
/// </summary>
public sealed class MaskOverlay
{
    private readonly byte[] _png;
    // The visible part (alpha >= 16), unpremultiplied, for sampling.
    private readonly byte[] _rgb, _alpha;

    private MaskOverlay(byte[] png, string name)
    {
        _png = png;
        Name = name;
        using var bitmap = DecodeWhole(png, name);
        if (bitmap.AlphaType == SKAlphaType.Opaque) throw new InvalidDataException($"{name}: the mask has no transparency; a mask overlay needs an alpha channel.");
        // A mask must hide something and leave its surroundings: some pixels opaque, some transparent.
        var alpha = bitmap.Pixels.Select(p => p.Alpha).ToArray();
        if (!alpha.Any(a => a > 128) || !alpha.Any(a => a < 128))
            throw new InvalidDataException($"{name}: the mask is {(alpha.Any(a => a > 128) ? "opaque everywhere" : "nowhere more than half opaque")}; a mask overlay needs both opaque and transparent parts.");
        var pixels = bitmap.Pixels;
        int left = bitmap.Width, top = bitmap.Height, right = -1, bottom = -1;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (alpha[y * bitmap.Width + x] >= 16)
                    (left, top, right, bottom) = (Math.Min(left, x), Math.Min(top, y), Math.Max(right, x), Math.Max(bottom, y));
        (Width, Height) = (right - left + 1, bottom - top + 1);
        _rgb = new byte[Width * Height * 3];
        _alpha = new byte[Width * Height];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                var colour = pixels[(y + top) * bitmap.Width + x + left];
                int to = y * Width + x;
                (_rgb[3 * to], _rgb[3 * to + 1], _rgb[3 * to + 2], _alpha[to]) = (colour.Red, colour.Green, colour.Blue, colour.Alpha);
            }
    }

    /// <summary>A mask is a small picture; a larger one is refused before it is decoded (its pixels would be held three times).</summary>
    private const long MaxPixels = 25_000_000;

    /// <summary>Decodes every pixel of <paramref name="png"/>, refusing an unreadable, oversized or truncated picture by name.</summary>
    private static SKBitmap DecodeWhole(byte[] png, string name)
    {
        using var data = SKData.CreateCopy(png);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException($"{name}: not a readable PNG image.");
        var info = codec.Info;
        if ((long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException($"{name}: {info.Width}x{info.Height} pixels; a mask overlay may have at most {MaxPixels:N0}.");
        var bitmap = new SKBitmap(new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, info.AlphaType == SKAlphaType.Opaque ? SKAlphaType.Opaque : SKAlphaType.Premul));
        var result = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
        if (result == SKCodecResult.Success)
            return bitmap;
        bitmap.Dispose();
        throw new InvalidDataException($"{name}: corrupt image ({(result == SKCodecResult.IncompleteInput ? "truncated" : result.ToString())}).");
    }

    /// <summary>The file name.</summary>
    public string Name { get; }

    /// <summary>Width of the visible part in pixels.</summary>
    public int Width { get; }

    /// <summary>Height of the visible part in pixels.</summary>
    public int Height { get; }

    /// <summary>Reads one overlay file.</summary>
    /// <exception cref="InvalidDataException">Not a readable image, no transparency, or nothing visible (the message names the file).</exception>
    public static MaskOverlay Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Mask overlay '{path}' does not exist.", path);
        ImageDecoder.RequireContent(path);
        return new MaskOverlay(File.ReadAllBytes(path), path);
    }

    /// <summary>Every PNG of <paramref name="folder"/>, in name order.</summary>
    public static IReadOnlyList<MaskOverlay> LoadFolder(string folder)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException(File.Exists(folder) ? $"'{folder}' is a file; give the folder of mask PNGs." : $"Mask folder '{folder}' does not exist.");
        var files = Directory.GetFiles(folder, "*.png", new EnumerationOptions { MatchCasing = MatchCasing.CaseInsensitive }).Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new InvalidDataException($"Mask folder '{folder}' holds no PNG files.");
        return files.Select(Load).ToArray();
    }

    /// <summary>
    /// Paints the mask from the chin up to a top edge set by <paramref name="coverage"/> (1: just above the mouth, 2:
    /// halfway between nose and mouth, 3: over the nose), as wide as 2.2 eye distances, turned with the eye line.
    /// </summary>
    public RgbImage Paint(RgbImage image, FaceLandmarks m, int coverage)
    {
        var eyes = (m.LeftEye + m.RightEye) / 2;
        var mouth = (m.LeftMouth + m.RightMouth) / 2;
        float down = Vector2.Distance(eyes, mouth);
        var axis = down > 0 ? (mouth - eyes) / down : Vector2.UnitY;
        float noseAt = Vector2.Dot(m.Nose - eyes, axis);
        float top = coverage switch
        {
            1 => down - 0.15f * down,
            2 => (noseAt + down) / 2,
            _ => noseAt - 0.2f * down,
        };
        float bottom = down * 1.8f;
        float width = 2.2f * Vector2.Distance(m.LeftEye, m.RightEye);
        float angle = MathF.Atan2(m.RightEye.Y - m.LeftEye.Y, m.RightEye.X - m.LeftEye.X) * 180 / MathF.PI;
        using var canvasBitmap = ImageEncoder.ToBitmap(image);
        using var overlay = SKBitmap.Decode(_png);
        using (var canvas = new SKCanvas(canvasBitmap))
        {
            canvas.Translate(eyes.X, eyes.Y);
            canvas.RotateDegrees(angle);
            // In the rotated frame, y runs from the eye line towards the chin.
            using var paint = new SKPaint { IsAntialias = true };
            canvas.DrawBitmap(overlay, new SKRect(-width / 2, top, width / 2, bottom), paint);
        }
        return ImageEncoder.FromBitmap(canvasBitmap);
    }

    /// <summary>Bilinear colour (0-255) and alpha (0-1) at (<paramref name="u"/>, <paramref name="v"/>) in [0, 1]^2; transparent outside.</summary>
    internal (float R, float G, float B, float Alpha) Sample(float u, float v)
    {
        if (u is < 0 or > 1 || v is < 0 or > 1) return default;
        float fx = u * (Width - 1), fy = v * (Height - 1);
        int x0 = (int)fx, y0 = (int)fy, x1 = Math.Min(x0 + 1, Width - 1), y1 = Math.Min(y0 + 1, Height - 1);
        float wx = fx - x0, wy = fy - y0;
        float r = 0, g = 0, b = 0, alpha = 0;
        void Add(int x, int y, float w)
        {
            int i = y * Width + x;
            float aw = w * _alpha[i] / 255f;
            (r, g, b, alpha) = (r + aw * _rgb[3 * i], g + aw * _rgb[3 * i + 1], b + aw * _rgb[3 * i + 2], alpha + aw);
        }
        Add(x0, y0, (1 - wx) * (1 - wy));
        Add(x1, y0, wx * (1 - wy));
        Add(x0, y1, (1 - wx) * wy);
        Add(x1, y1, wx * wy);
        return alpha > 1e-4f ? (r / alpha, g / alpha, b / alpha, alpha) : default;
    }
}
