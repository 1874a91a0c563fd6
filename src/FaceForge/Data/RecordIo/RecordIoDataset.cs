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
        var ranges = new List<(long Start, long Stop, long Id)>();
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
            ranges.Add((start, stop, id));
            for (long k = start; k < stop; k++)
            {
                if (!reader.Contains(k))
                    throw new InvalidDataException($"{at}: image key {k} of its range [{start}, {stop}) is missing from '{reader.IdxPath}'.");
                keys.Add(k);
                labels.Add((int)(id - first));
            }
        }
        // Overlaps found by sorting the ranges, not with a set of every key (hundreds of MB for tens of millions of images).
        ranges.Sort();
        for (int i = 1; i < ranges.Count; i++)
            if (ranges[i].Start < ranges[i - 1].Stop)
            {
                var (later, earlier) = ranges[i].Id > ranges[i - 1].Id ? (ranges[i], ranges[i - 1]) : (ranges[i - 1], ranges[i]);
                throw new InvalidDataException($"{reader.RecPath} record {later.Id}: image range [{later.Start}, {later.Stop}) overlaps record {earlier.Id}'s [{earlier.Start}, {earlier.Stop}).");
            }
        return new RecordIoDataset(reader, [.. keys], [.. labels], (int)(end - first));
    }

    /// <summary>
    /// No header: each record's own label is its class. Labels must be whole and non-negative; distinct ones are
    /// numbered 0 .. K-1 in their order, so a subset keeping its original class ids (say a few in 85,000) gets K
    /// classes, not a classifier sized by its largest id.
    /// </summary>
    private static RecordIoDataset OpenFlat(RecordIoReader reader)
    {
        var keys = reader.Keys.ToArray();
        if (keys.Length == 0) throw new InvalidDataException($"{reader.RecPath}: the pack holds no records.");
        var raw = new long[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            string at = $"{reader.RecPath} record {keys[i]}";
            raw[i] = WholeLabel(reader.ReadImageRecord(keys[i]).PrimaryLabel, at, "label");
            if (raw[i] < 0) throw new InvalidDataException($"{at}: label {raw[i]} is negative (classes are numbered from 0).");
        }
        var dense = raw.Distinct().Order().Select((label, index) => (label, index)).ToDictionary(p => p.label, p => p.index);
        return new RecordIoDataset(reader, keys, [.. raw.Select(l => dense[l])], dense.Count);
    }

    /// <summary>IRHeader labels are float32, exact for whole numbers up to 2^24 only: beyond it a key or class would be read wrong.</summary>
    private static long WholeLabel(float value, string where, string what) =>
        float.IsFinite(value) && value == MathF.Round(value) && Math.Abs(value) <= MaxExactLabel
            ? (long)value
            : throw new InvalidDataException($"{where}: {what} {value.ToString("0.#####", System.Globalization.CultureInfo.InvariantCulture)} is not a whole number of at most {MaxExactLabel} (float32 labels hold no larger one exactly).");

    /// <summary>2^24, the largest whole number from which float32 still steps by one.</summary>
    internal const long MaxExactLabel = 1 << 24;

    /// <inheritdoc/>
    public int GetLabel(int index) => _labels[index];

    /// <inheritdoc/>
    public byte[] ReadEncoded(int index) => _reader.ReadImageRecord(_keys[index]).Payload;

    /// <inheritdoc/>
    public string Describe(int index) => $"{_reader.RecPath} record {_keys[index]}";

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}
