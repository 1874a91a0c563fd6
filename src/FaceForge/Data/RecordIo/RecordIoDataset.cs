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
            if (header is { Labels.Length: >= 2 })
            {
                long first = (long)header.Labels[0], end = (long)header.Labels[1];
                var keys = new List<long>();
                var labels = new List<int>();
                for (long id = first; id < end; id++)
                {
                    var identity = reader.ReadImageRecord(id);
                    if (identity.Labels.Length < 2)
                        throw new InvalidDataException($"{reader.RecPath} record {id}: identity record without an image range.");
                    for (long k = (long)identity.Labels[0]; k < (long)identity.Labels[1]; k++)
                    {
                        keys.Add(k);
                        labels.Add((int)(id - first));
                    }
                }
                return new RecordIoDataset(reader, [.. keys], [.. labels], (int)(end - first));
            }
            var flatKeys = reader.Keys.ToArray();
            var flatLabels = flatKeys.Select(k => (int)reader.ReadImageRecord(k).PrimaryLabel).ToArray();
            return new RecordIoDataset(reader, flatKeys, flatLabels, flatLabels.Length == 0 ? 0 : flatLabels.Max() + 1);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public int GetLabel(int index) => _labels[index];

    /// <inheritdoc/>
    public byte[] ReadEncoded(int index) => _reader.ReadImageRecord(_keys[index]).Payload;

    /// <inheritdoc/>
    public string Describe(int index) => $"{_reader.RecPath} record {_keys[index]}";

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}
