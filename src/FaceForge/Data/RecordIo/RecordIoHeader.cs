namespace FaceForge.Data.RecordIo;

/// <summary>
/// MXNet's IRHeader at the start of each image record: flag, label, id, id2 (24 bytes). When <see cref="Flag"/> is
/// above zero, that many float labels follow the header and <see cref="Label"/> is unused.
/// </summary>
public readonly record struct RecordIoHeader(uint Flag, float Label, ulong Id, ulong Id2)
{
    /// <summary>Size of the fixed part in bytes.</summary>
    public const int Size = 24;
}

/// <summary>A decoded image record: header, label vector and payload (encoded image bytes).</summary>
public sealed record ImageRecord(RecordIoHeader Header, float[] Labels, byte[] Payload)
{
    /// <summary>The class label: the first of <see cref="Labels"/> when present, else the header label.</summary>
    public float PrimaryLabel => Labels.Length > 0 ? Labels[0] : Header.Label;

    /// <summary>Parses IRHeader, labels and payload from a record's bytes.</summary>
    public static ImageRecord Parse(ReadOnlySpan<byte> record, string where)
    {
        if (record.Length < RecordIoHeader.Size)
            throw new InvalidDataException($"{where}: record of {record.Length} bytes is shorter than the {RecordIoHeader.Size}-byte IRHeader.");
        var header = new RecordIoHeader(
            BitConverter.ToUInt32(record), BitConverter.ToSingle(record[4..]), BitConverter.ToUInt64(record[8..]), BitConverter.ToUInt64(record[16..]));
        long labelBytes = 4L * header.Flag;
        if (RecordIoHeader.Size + labelBytes > record.Length)
            throw new InvalidDataException($"{where}: IRHeader flag {header.Flag} promises more labels than the record's {record.Length} bytes hold.");
        var labels = new float[header.Flag];
        for (int i = 0; i < labels.Length; i++)
            labels[i] = BitConverter.ToSingle(record[(RecordIoHeader.Size + 4 * i)..]);
        return new ImageRecord(header, labels, record[(int)(RecordIoHeader.Size + labelBytes)..].ToArray());
    }

    /// <summary>The record's bytes: header, labels, payload.</summary>
    public byte[] ToBytes()
    {
        var header = Header with { Flag = (uint)Labels.Length };
        var bytes = new byte[RecordIoHeader.Size + 4 * Labels.Length + Payload.Length];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), header.Flag);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), header.Label);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), header.Id);
        BitConverter.TryWriteBytes(bytes.AsSpan(16), header.Id2);
        for (int i = 0; i < Labels.Length; i++)
            BitConverter.TryWriteBytes(bytes.AsSpan(RecordIoHeader.Size + 4 * i), Labels[i]);
        Payload.CopyTo(bytes, RecordIoHeader.Size + 4 * Labels.Length);
        return bytes;
    }
}
