namespace FaceForge.Imaging;

/// <summary>Encoded image formats FaceForge reads.</summary>
public enum ImageFormat
{
    /// <summary>Not recognised.</summary>
    Unknown,
    /// <summary>JPEG.</summary>
    Jpeg,
    /// <summary>PNG.</summary>
    Png,
    /// <summary>Windows bitmap.</summary>
    Bmp,
    /// <summary>GIF (first frame).</summary>
    Gif,
    /// <summary>WebP.</summary>
    WebP,
    /// <summary>Netpbm grey map or pixel map (P2, P3, P5, P6).</summary>
    Pnm,
}

/// <summary>Recognises an encoded image by its first bytes, never by its file name.</summary>
public static class ImageFormatSniffer
{
    /// <summary>The format whose signature starts <paramref name="data"/>.</summary>
    public static ImageFormat Detect(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat.Jpeg;
        if (data.Length >= 8 && data[..8].SequenceEqual(PngSignature)) return ImageFormat.Png;
        if (data.Length >= 2 && data[0] == (byte)'B' && data[1] == (byte)'M') return ImageFormat.Bmp;
        if (data.Length >= 6 && (data[..6].SequenceEqual("GIF87a"u8) || data[..6].SequenceEqual("GIF89a"u8))) return ImageFormat.Gif;
        if (data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data[8..12].SequenceEqual("WEBP"u8)) return ImageFormat.WebP;
        if (data.Length >= 2 && data[0] == (byte)'P' && data[1] is (byte)'2' or (byte)'3' or (byte)'5' or (byte)'6') return ImageFormat.Pnm;
        return ImageFormat.Unknown;
    }

    /// <summary>
    /// The name of a common image format FaceForge does not read (HEIC/HEIF, AVIF, TIFF, JPEG XL, JPEG 2000), recognised
    /// by its first bytes so the error can say what the file is; null for anything else.
    /// </summary>
    public static string? UnsupportedName(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 12 && data[4..8].SequenceEqual("ftyp"u8))
        {
            var brand = data[8..12];
            // An AVIF may carry the generic image brand (mif1) first and avif among its compatible brands.
            int size = data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3];
            var compatible = size > 16 && data.Length > 16 ? data[16..Math.Min(data.Length, Math.Min(size, 256))] : [];
            if (brand.SequenceEqual("avif"u8) || brand.SequenceEqual("avis"u8) || compatible.IndexOf("avif"u8) >= 0) return "AVIF";
            if (brand.SequenceEqual("heic"u8) || brand.SequenceEqual("heix"u8) || brand.SequenceEqual("hevc"u8) || brand.SequenceEqual("heim"u8)
                || brand.SequenceEqual("heis"u8) || brand.SequenceEqual("mif1"u8) || brand.SequenceEqual("msf1"u8)) return "HEIC/HEIF";
            if (brand.SequenceEqual("jp2 "u8)) return "JPEG 2000";
        }
        if (data.Length >= 4 && (data[..4].SequenceEqual("II*\0"u8) || data[..4].SequenceEqual("MM\0*"u8))) return "TIFF";
        if (data.Length >= 2 && data[0] == 0xFF && data[1] == 0x0A) return "JPEG XL";
        if (data.Length >= 12 && data[4..12].SequenceEqual((ReadOnlySpan<byte>)[0x6A, 0x58, 0x4C, 0x20, 0x0D, 0x0A, 0x87, 0x0A])) return "JPEG XL";
        if (data.Length >= 12 && data[4..12].SequenceEqual((ReadOnlySpan<byte>)[0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A])) return "JPEG 2000";
        return null;
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
}
