namespace FaceForge.Data.RecordIo;

/// <summary>
/// An InsightFace RecordIO dataset (train.rec + train.idx). Record 0 is a header whose two labels are
/// (first identity-record key, end key); image records are keys 1 … first - 1, each identity record holds the
/// [start, end) image-key range of one identity. Files without a header record are read as a flat list of images
/// labelled by their IRHeader label.
/// </summary>
/// <remarks>Thread-safe for reading.</remarks>
public sealed class RecordIoDataset : IFaceDataset
{
    private readonly RecordIoReader _reader;
    private readonly long[] _keys;
    private readonly int[] _labels;

    private RecordIoDataset(RecordIoReader reader, long[] keys, int[] labels, int identities)
    {
        _reader = reader;
        _keys = keys;
        _labels = labels;
        IdentityCount = identities;
    }

    /// <inheritdoc/>
    public int Count => _keys.Length;

    /// <inheritdoc/>
    public int IdentityCount { get; }

    /// <inheritdoc/>
    public string Format => "recordio";

    /// <summary>Opens PREFIX.rec and PREFIX.idx.</summary>
    public static RecordIoDataset Open(string path)
    {
        var reader = new RecordIoReader(path);
        try
        {
            var header = reader.Contains(0) ? reader.ReadImageRecord(0) : null;
            return header is { Labels.Length: >= 2 } ? OpenIndexed(reader, header) : OpenFlat(reader);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Header layout: every range is checked against the index before anything is allocated from it, so a record
    /// claiming a billion identities or images is an error naming it, not an exhausted memory.
    /// </summary>
    private static RecordIoDataset OpenIndexed(RecordIoReader reader, ImageRecord header)
    {
        string where = $"{reader.RecPath} record 0 (header)";
        long first = WholeLabel(header.Labels[0], where, "first identity key"), end = WholeLabel(header.Labels[1], where, "end key");
        if (first < 1 || end < first)
            throw new InvalidDataException($"{where}: identity keys [{first}, {end}) are not a range after the image keys.");
        if (end - first > reader.Keys.Count)
            throw new InvalidDataException($"{where}: claims {end - first} identities, but '{reader.IdxPath}' indexes {reader.Keys.Count} records.");
        var keys = new List<long>();
        var labels = new List<int>();
        var seen = new HashSet<long>();
        for (long id = first; id < end; id++)
        {
            string at = $"{reader.RecPath} record {id}";
            if (!reader.Contains(id))
                throw new InvalidDataException($"{at}: identity record missing from '{reader.IdxPath}' (the header names identities [{first}, {end})).");
            var identity = reader.ReadImageRecord(id);
            if (identity.Labels.Length < 2)
                throw new InvalidDataException($"{at}: identity record without an image range.");
            long start = WholeLabel(identity.Labels[0], at, "image range start"), stop = WholeLabel(identity.Labels[1], at, "image range end");
            if (start < 1 || stop < start || stop > first)
                throw new InvalidDataException($"{at}: image range [{start}, {stop}) is not within the image keys [1, {first}).");
            for (long k = start; k < stop; k++)
            {
                if (!reader.Contains(k))
                    throw new InvalidDataException($"{at}: image key {k} of its range [{start}, {stop}) is missing from '{reader.IdxPath}'.");
                if (!seen.Add(k))
                    throw new InvalidDataException($"{at}: image key {k} also belongs to an earlier identity.");
                keys.Add(k);
                labels.Add((int)(id - first));
            }
        }
        return new RecordIoDataset(reader, [.. keys], [.. labels], (int)(end - first));
    }

    /// <summary>No header: each record's own label is its class, which must be a whole number below the record count.</summary>
    private static RecordIoDataset OpenFlat(RecordIoReader reader)
    {
        var keys = reader.Keys.ToArray();
        if (keys.Length == 0) throw new InvalidDataException($"{reader.RecPath}: the pack holds no records.");
        var labels = new int[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            string at = $"{reader.RecPath} record {keys[i]}";
            long label = WholeLabel(reader.ReadImageRecord(keys[i]).PrimaryLabel, at, "label");
            // A class id past the number of images cannot be a dense class list: it would size a classifier from nothing.
            if (label < 0 || label >= keys.Length)
                throw new InvalidDataException($"{at}: label {label} is outside 0 .. {keys.Length - 1} (classes are numbered from 0, at most one per image).");
            labels[i] = (int)label;
        }
        return new RecordIoDataset(reader, keys, labels, labels.Length == 0 ? 0 : labels.Max() + 1);
    }

    private static long WholeLabel(float value, string where, string what) =>
        float.IsFinite(value) && value == MathF.Round(value) && Math.Abs(value) < 1e15f
            ? (long)value
            : throw new InvalidDataException($"{where}: {what} {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not a whole number.");

    /// <inheritdoc/>
    public int GetLabel(int index) => _labels[index];

    /// <inheritdoc/>
    public byte[] ReadEncoded(int index) => _reader.ReadImageRecord(_keys[index]).Payload;

    /// <inheritdoc/>
    public string Describe(int index) => $"{_reader.RecPath} record {_keys[index]}";

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}
