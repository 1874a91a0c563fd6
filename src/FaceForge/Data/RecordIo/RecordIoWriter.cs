using System.Globalization;

namespace FaceForge.Data.RecordIo;

/// <summary>
/// Writes an indexed RecordIO pair. Records go to temporary files that are renamed to PREFIX.rec and PREFIX.idx
/// only by <see cref="Commit"/>, so an interrupted write never replaces an existing dataset.
/// </summary>
/// <remarks>Not thread-safe: one writer thread.</remarks>
public sealed class RecordIoWriter : IDisposable
{
    private readonly string _prefix;
    private readonly string _recTemporary;
    private readonly FileStream _rec;
    private readonly System.Text.StringBuilder _index = new();
    private bool _committed;

    /// <summary>Starts writing PREFIX.rec and PREFIX.idx.</summary>
    public RecordIoWriter(string prefix)
    {
        _prefix = RecordIoReader.StripExtension(Path.GetFullPath(prefix));
        Directory.CreateDirectory(Path.GetDirectoryName(_prefix)!);
        _recTemporary = $"{_prefix}.rec.{Environment.ProcessId}.tmp";
        _rec = new FileStream(_recTemporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
    }

    /// <summary>Appends a record under <paramref name="key"/>.</summary>
    public void Write(long key, ReadOnlySpan<byte> record)
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        _index.Append(key.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(_rec.Position.ToString(CultureInfo.InvariantCulture)).Append('\n');
        RecordIoFraming.WriteRecord(_rec, record);
    }

    /// <summary>Appends an image record under <paramref name="key"/>.</summary>
    public void Write(long key, ImageRecord record) => Write(key, record.ToBytes());

    /// <summary>Flushes and moves both files into place.</summary>
    public void Commit()
    {
        _rec.Flush(flushToDisk: true);
        _rec.Dispose();
        File.Move(_recTemporary, _prefix + ".rec", overwrite: true);
        AtomicFile.WriteAllText(_prefix + ".idx", _index.ToString());
        _committed = true;
    }

    /// <summary>Discards an uncommitted write.</summary>
    public void Dispose()
    {
        _rec.Dispose();
        if (!_committed && File.Exists(_recTemporary)) File.Delete(_recTemporary);
    }
}
