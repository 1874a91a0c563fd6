namespace FaceForge.Data.RecordIo;

/// <summary>
/// dmlc RecordIO framing: each chunk is the magic 0xced7230a, a word holding a 3-bit continuation flag and a 29-bit
/// length, the data, then zero padding to 4 bytes. A record whose data contains the magic at a 4-byte-aligned
/// position is split there (flags 1 start, 2 middle, 3 end) and the magic is re-inserted when reading.
/// </summary>
internal static class RecordIoFraming
{
    public const uint Magic = 0xced7230a;
    private const int MaxChunk = (1 << 29) - 1;

    public static void WriteRecord(Stream stream, ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxChunk)
            throw new ArgumentException($"Record of {data.Length} bytes exceeds RecordIO's {MaxChunk}-byte limit.", nameof(data));
        int start = 0;
        bool split = false;
        for (int i = 0; i + 4 <= data.Length; i += 4)
        {
            if (BitConverter.ToUInt32(data[i..]) != Magic) continue;
            WriteChunk(stream, split ? 2u : 1u, data[start..i]);
            split = true;
            start = i + 4;
        }
        WriteChunk(stream, split ? 3u : 0u, data[start..]);
    }

    private static void WriteChunk(Stream stream, uint flag, ReadOnlySpan<byte> chunk)
    {
        Span<byte> head = stackalloc byte[8];
        BitConverter.TryWriteBytes(head, Magic);
        BitConverter.TryWriteBytes(head[4..], flag << 29 | (uint)chunk.Length);
        stream.Write(head);
        stream.Write(chunk);
        int pad = (4 - chunk.Length % 4) % 4;
        if (pad > 0) stream.Write(stackalloc byte[pad]);
    }

    /// <summary>Reads the record starting at <paramref name="offset"/> through positional reads (thread-safe).</summary>
    public static byte[] ReadRecord(Microsoft.Win32.SafeHandles.SafeFileHandle file, long fileLength, long offset, string where)
    {
        var result = new List<byte>();
        Span<byte> head = stackalloc byte[8];
        while (true)
        {
            if (offset + 8 > fileLength)
                throw new InvalidDataException($"{where}: record header at byte {offset} lies past the end of the file ({fileLength} bytes): truncated .rec?");
            RandomAccess.Read(file, head, offset);
            uint magic = BitConverter.ToUInt32(head);
            if (magic != Magic)
                throw new InvalidDataException($"{where}: bad RecordIO magic 0x{magic:x8} at byte {offset} (expected 0x{Magic:x8}): corrupt .rec or .idx out of date.");
            uint word = BitConverter.ToUInt32(head[4..]);
            uint flag = word >> 29;
            int length = (int)(word & MaxChunk);
            if (offset + 8 + length > fileLength)
                throw new InvalidDataException($"{where}: record at byte {offset} claims {length} bytes but the file ends at {fileLength}: truncated .rec.");
            var chunk = new byte[length];
            RandomAccess.Read(file, chunk, offset + 8);
            result.AddRange(chunk);
            offset += 8 + length + (4 - length % 4) % 4;
            if (flag is 0 or 3) return [.. result];
            result.AddRange(BitConverter.GetBytes(Magic));
        }
    }
}
