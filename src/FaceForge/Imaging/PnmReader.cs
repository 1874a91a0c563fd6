namespace FaceForge.Imaging;

/// <summary>Reads Netpbm grey maps and pixel maps: P2 and P5 (grey, expanded to RGB), P3 and P6 (RGB); maxval up to 65535.</summary>
internal static class PnmReader
{
    /// <summary>Width and height from the header alone (nothing allocated for the raster).</summary>
    public static (int Width, int Height) Size(ReadOnlySpan<byte> data, string name)
    {
        int position = 0;
        var (_, width, height) = Header(data, ref position, name);
        if (width <= 0 || height <= 0) throw new InvalidDataException($"{name}: bad Netpbm header (width {width}, height {height}).");
        return (width, height);
    }

    /// <summary>The magic number (checked) and the width and height; <paramref name="position"/> ends after the height.</summary>
    private static (string Magic, int Width, int Height) Header(ReadOnlySpan<byte> data, ref int position, string name)
    {
        string magic = NextToken(data, ref position, name);
        if (magic is not ("P2" or "P3" or "P5" or "P6"))
            throw new InvalidDataException($"{name}: unsupported Netpbm type '{magic}' (expected P2, P3, P5 or P6).");
        return (magic, NextInt(data, ref position, name, "width"), NextInt(data, ref position, name, "height"));
    }

    public static RgbImage Read(ReadOnlySpan<byte> data, string name)
    {
        int position = 0;
        var (magic, width, height) = Header(data, ref position, name);
        bool grey = magic is "P2" or "P5";
        bool binary = magic is "P5" or "P6";
        int maxValue = NextInt(data, ref position, name, "maxval");
        if (width <= 0 || height <= 0 || maxValue is <= 0 or > 65535)
            throw new InvalidDataException($"{name}: bad Netpbm header (width {width}, height {height}, maxval {maxValue}).");
        if ((long)width * height > ImageDecoder.MaxPixels)
            throw new InvalidDataException($"{name}: {width}x{height} exceeds the {ImageDecoder.MaxPixels}-pixel limit.");

        int samplesPerPixel = grey ? 1 : 3;
        int sampleCount = width * height * samplesPerPixel;
        var samples = new byte[sampleCount];
        if (binary)
        {
            position++; // exactly one whitespace byte separates the header from the raster
            int bytesPerSample = maxValue > 255 ? 2 : 1;
            if (data.Length - position < (long)sampleCount * bytesPerSample)
                throw new InvalidDataException($"{name}: truncated Netpbm raster: {data.Length - position} bytes, expected {(long)sampleCount * bytesPerSample}.");
            for (int i = 0; i < sampleCount; i++)
            {
                int value = bytesPerSample == 1 ? data[position + i] : data[position + 2 * i] << 8 | data[position + 2 * i + 1];
                samples[i] = Scale(value, maxValue, name);
            }
        }
        else
        {
            for (int i = 0; i < sampleCount; i++)
                samples[i] = Scale(NextInt(data, ref position, name, $"sample {i}"), maxValue, name);
        }

        if (!grey)
            return new RgbImage(width, height, samples);
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < samples.Length; i++)
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = samples[i];
        return new RgbImage(width, height, rgb);
    }

    private static byte Scale(int value, int maxValue, string name)
    {
        if (value > maxValue)
            throw new InvalidDataException($"{name}: sample {value} exceeds maxval {maxValue}.");
        return (byte)((value * 255 + maxValue / 2) / maxValue);
    }

    private static int NextInt(ReadOnlySpan<byte> data, ref int position, string name, string what)
    {
        string token = NextToken(data, ref position, name);
        if (!int.TryParse(token, out int value))
            throw new InvalidDataException($"{name}: expected an integer for {what}, found '{token}'.");
        return value;
    }

    private static string NextToken(ReadOnlySpan<byte> data, ref int position, string name)
    {
        while (position < data.Length)
        {
            if (data[position] == (byte)'#')
                while (position < data.Length && data[position] != (byte)'\n') position++;
            else if (char.IsWhiteSpace((char)data[position])) position++;
            else break;
        }
        int start = position;
        while (position < data.Length && !char.IsWhiteSpace((char)data[position]) && data[position] != (byte)'#') position++;
        if (start == position)
            throw new InvalidDataException($"{name}: truncated Netpbm data at byte {position}.");
        return System.Text.Encoding.ASCII.GetString(data[start..position]);
    }
}
