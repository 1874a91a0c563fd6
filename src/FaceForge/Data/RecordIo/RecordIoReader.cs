using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace FaceForge.Data.RecordIo;

/// <summary>
/// Random access to an indexed RecordIO file pair (PREFIX.rec and PREFIX.idx, the idx holding "key\toffset" lines).
/// </summary>
/// <remarks>Reads are positional, so <see cref="Read"/> may be called from several threads at once.</remarks>
public sealed class RecordIoReader : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly long _length;
    private readonly Dictionary<long, long> _offsets;

    /// <summary>Opens PREFIX.rec with its PREFIX.idx (<paramref name="path"/> may name either or the prefix).</summary>
    /// <exception cref="FileNotFoundException">The .rec or .idx file is missing.</exception>
    /// <exception cref="InvalidDataException">A line of the .idx is malformed.</exception>
    public RecordIoReader(string path)
    {
        string prefix = StripExtension(path);
        RecordIoWriter.CompleteInterruptedCommit(prefix);
        RecPath = prefix + ".rec";
        IdxPath = prefix + ".idx";
        if (!File.Exists(RecPath)) throw new FileNotFoundException($"RecordIO file '{RecPath}' does not exist.", RecPath);
        if (!File.Exists(IdxPath)) throw new FileNotFoundException($"RecordIO index '{IdxPath}' is missing; it must sit beside '{RecPath}'.", IdxPath);
        // A pack may be committed while we open: read the index, open the .rec, and retry when the index changed or a
        // commit is under way meanwhile, so the two always come from one pack.
        for (int attempt = 0; ; attempt++)
        {
            var before = Stamp(IdxPath);
            _offsets = ReadIndex(IdxPath);
            _file = File.OpenHandle(RecPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            if ((Stamp(IdxPath) == before && !File.Exists(prefix + ".commit")) || attempt == 4) break;
            _file.Dispose();
            Thread.Sleep(50);
            RecordIoWriter.CompleteInterruptedCommit(prefix);
        }
        Keys = [.. _offsets.Keys.Order()];
        _length = RandomAccess.GetLength(_file);
        CheckPair();
    }

    /// <summary>The .rec path.</summary>
    public string RecPath { get; }

    /// <summary>The .idx path.</summary>
    public string IdxPath { get; }

    /// <summary>All keys in the index, ascending.</summary>
    public IReadOnlyList<long> Keys { get; }

    /// <summary>Whether the index holds <paramref name="key"/>.</summary>
    public bool Contains(long key) => _offsets.ContainsKey(key);

    /// <summary>The raw bytes of record <paramref name="key"/>.</summary>
    public byte[] Read(long key)
    {
        if (!_offsets.TryGetValue(key, out long offset))
            throw new KeyNotFoundException($"{RecPath}: no record with key {key} in '{IdxPath}'.");
        return RecordIoFraming.ReadRecord(_file, _length, offset, $"{RecPath} record {key}");
    }

    /// <summary>Record <paramref name="key"/> parsed as an image record.</summary>
    public ImageRecord ReadImageRecord(long key) => ImageRecord.Parse(Read(key), $"{RecPath} record {key}");

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    /// <summary>
    /// The index must point at records of this .rec: the first, middle and last records by offset are read (magic and
    /// length checked), so an index of another pack, or a truncated .rec, is reported before any training starts.
    /// </summary>
    private void CheckPair()
    {
        var byOffset = _offsets.OrderBy(kv => kv.Value).ToList();
        if (byOffset.Count == 0)
        {
            if (_length == 0) return;
            _file.Dispose();
            throw new InvalidDataException($"'{IdxPath}' indexes no record, but '{RecPath}' holds {_length} bytes: a mismatched or truncated pair; pack it again.");
        }
        // Two keys at one offset would read one record as two images (of two identities).
        for (int i = 1; i < byOffset.Count; i++)
            if (byOffset[i].Value == byOffset[i - 1].Value)
            {
                _file.Dispose();
                throw new InvalidDataException($"'{IdxPath}': keys {byOffset[i - 1].Key} and {byOffset[i].Key} both point at offset {byOffset[i].Value}: each record has one key.");
            }
        foreach (var (key, offset) in new[] { byOffset[0], byOffset[byOffset.Count / 2], byOffset[^1] })
        {
            try
            {
                RecordIoFraming.ReadRecord(_file, _length, offset, $"{RecPath} record {key}");
            }
            catch (InvalidDataException e)
            {
                _file.Dispose();
                throw new InvalidDataException($"'{IdxPath}' does not match '{RecPath}' (a mismatched or truncated pair; pack it again): {e.Message}", e);
            }
        }
    }

    private static (long Length, DateTime Written) Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1, default);
    }

    internal static string StripExtension(string path) =>
        path.EndsWith(".rec", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".idx", StringComparison.OrdinalIgnoreCase) ? path[..^4] : path;

    private static Dictionary<long, long> ReadIndex(string idxPath)
    {
        var offsets = new Dictionary<long, long>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(idxPath))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            string[] parts = line.Split('\t', ' ');
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long key)
                || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long offset) || offset < 0)
                throw new InvalidDataException($"{idxPath}:{lineNumber}: expected 'key<TAB>offset', found '{line}'.");
            if (!offsets.TryAdd(key, offset))
                throw new InvalidDataException($"{idxPath}:{lineNumber}: key {key} is indexed twice.");
        }
        return offsets;
    }
}
