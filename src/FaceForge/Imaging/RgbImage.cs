namespace FaceForge.Imaging;

/// <summary>
/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B with no row padding. FaceForge's own pixel
/// type: no image library's type crosses the public API.
/// </summary>
/// <remarks>The pixel buffer is owned by the image and may be written through <see cref="Pixels"/>; the type has no
/// internal synchronisation, so concurrent writers must coordinate.</remarks>
public sealed class RgbImage
{
    /// <summary>Bytes per pixel.</summary>
    public const int Channels = 3;

    private readonly byte[] _pixels;

    /// <summary>Creates a black image.</summary>
    public RgbImage(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if ((long)width * height * Channels > Array.MaxLength)
            throw new ArgumentException($"A {width}x{height} RGB image needs {(long)width * height * Channels:N0} bytes, more than one .NET array holds ({Array.MaxLength:N0}).");
        Width = width;
        Height = height;
        _pixels = new byte[width * height * Channels];
    }

    /// <summary>Wraps (does not copy) an RGB buffer of exactly width * height * 3 bytes.</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != (long)width * height * Channels)
            throw new ArgumentException($"Expected {(long)width * height * Channels} bytes for {width}x{height} RGB, got {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        _pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The pixels, interleaved RGB, row-major.</summary>
    public Span<byte> Pixels => _pixels;

    /// <summary>The underlying array (not a copy).</summary>
    internal byte[] Buffer => _pixels;

    /// <summary>Returns an independent copy.</summary>
    public RgbImage Clone() => new(Width, Height, (byte[])_pixels.Clone());

    /// <summary>Returns the image mirrored left to right, as a new image.</summary>
    public RgbImage FlipHorizontal()
    {
        var result = new byte[_pixels.Length];
        int stride = Width * Channels;
        for (int y = 0; y < Height; y++)
        {
            int row = y * stride;
            for (int x = 0; x < Width; x++)
            {
                int from = row + x * Channels, to = row + (Width - 1 - x) * Channels;
                result[to] = _pixels[from];
                result[to + 1] = _pixels[from + 1];
                result[to + 2] = _pixels[from + 2];
            }
        }
        return new RgbImage(Width, Height, result);
    }
}
