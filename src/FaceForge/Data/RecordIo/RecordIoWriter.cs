using System.Globalization;

namespace FaceForge.Data.RecordIo;

/// <summary>
/// Writes an indexed RecordIO pair. Records go to temporary files that replace PREFIX.rec and PREFIX.idx only in
/// <see cref="Commit"/>: both are written and flushed, a journal (PREFIX.commit) naming them is written atomically,
/// then both are renamed and the journal deleted. A kill before the journal leaves the old pair; after it, the next
/// reader or writer finishes the renames (<see cref="CompleteInterruptedCommit"/>), so the pair seen is always the old
/// one or the new one, never a mix.
/// </summary>
/// <remarks>Not thread-safe: one writer thread.</remarks>
public sealed class RecordIoWriter : IDisposable
{
    private readonly string _prefix;
    private readonly string _recTemporary;
    private readonly string _idxTemporary;
    private readonly FileStream _rec;
    private readonly OwnerLock _lock;
    private readonly System.Text.StringBuilder _index = new();
    private bool _committed;

    /// <summary>Starts writing PREFIX.rec and PREFIX.idx.</summary>
    public RecordIoWriter(string prefix)
    {
        _prefix = RecordIoReader.StripExtension(Path.GetFullPath(prefix));
        Directory.CreateDirectory(Path.GetDirectoryName(_prefix)!);
        foreach (string target in new[] { _prefix + ".rec", _prefix + ".idx" })
            if (Directory.Exists(target)) throw new ArgumentException($"'{target}' is a folder; the pack needs that name for a file.");
        _recTemporary = $"{_prefix}.rec.{Environment.ProcessId}.tmp";
        _idxTemporary = $"{_prefix}.idx.{Environment.ProcessId}.tmp";
        // One writer per prefix: two packs into one name would otherwise interleave their renames into a mismatched pair.
        _lock = OwnerLock.Acquire(_prefix + ".pack.lock");
        try
        {
            CompleteInterruptedCommit(_prefix);
            // Temporary files of writers killed before their journal: the old pair is intact, so they are garbage.
            // Only this prefix's own names (PREFIX.rec.PID.tmp, PREFIX.idx.PID.tmp), never another prefix that starts alike.
            var own = new System.Text.RegularExpressions.Regex("^" + System.Text.RegularExpressions.Regex.Escape(Path.GetFileName(_prefix)) + @"\.(rec|idx)\.\d+\.tmp$");
            foreach (string stale in Directory.GetFiles(Path.GetDirectoryName(_prefix)!).Where(f => own.IsMatch(Path.GetFileName(f)))) File.Delete(stale);
            _rec = new FileStream(_recTemporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        }
        catch
        {
            _lock.Dispose();
            throw;
        }
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

    /// <summary>Flushes both files and moves them into place together (see the class remarks).</summary>
    public void Commit()
    {
        _rec.Flush(flushToDisk: true);
        _rec.Dispose();
        using (var idx = new FileStream(_idxTemporary, FileMode.Create, FileAccess.Write))
        {
            idx.Write(System.Text.Encoding.ASCII.GetBytes(_index.ToString()));
            idx.Flush(flushToDisk: true);
        }
        AtomicFile.WriteAllText(JournalPath(_prefix), $"{Path.GetFileName(_recTemporary)}\n{Path.GetFileName(_idxTemporary)}\n");
        // The writer's own files must be there: a missing one is an error, not a commit someone else finished.
        foreach (string temporary in new[] { _recTemporary, _idxTemporary })
            if (!File.Exists(temporary)) throw new IOException($"'{temporary}' disappeared before the pack was committed; the previous pair is kept.");
        CompleteInterruptedCommit(_prefix);
        _committed = true;
    }

    /// <summary>
    /// Finishes a commit that was interrupted after its journal was written: moves the journal's files that are
    /// still temporary into place and deletes the journal. Does nothing without a journal.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The folder is not writable (the pair cannot be completed from here).</exception>
    internal static void CompleteInterruptedCommit(string prefix)
    {
        string journal = JournalPath(prefix);
        string[] names;
        try
        {
            names = File.ReadAllLines(journal);
        }
        catch (FileNotFoundException)
        {
            return; // no journal, or another reader finished it just now
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(prefix))!;
        if (names.Length != 2) throw new InvalidDataException($"{journal}: a pack journal must name two files (found {names.Length} lines).");
        foreach (var (name, extension) in names.Zip([".rec", ".idx"]))
        {
            string temporary = Path.Combine(folder, Path.GetFileName(name));
            // A reader and the writer may both finish the same journal: whoever moves a file first wins.
            try { File.Move(temporary, prefix + extension, overwrite: true); }
            catch (FileNotFoundException) { }
        }
        File.Delete(journal);
    }

    private static string JournalPath(string prefix) => prefix + ".commit";

    /// <summary>Discards an uncommitted write (its temporary files too, even when closing fails on a full disk) and releases the prefix.</summary>
    public void Dispose()
    {
        try
        {
            _rec.Dispose();
        }
        catch (IOException)
        {
            if (_committed) throw;
        }
        finally
        {
            if (!_committed)
                foreach (string temporary in new[] { _recTemporary, _idxTemporary })
                    if (File.Exists(temporary)) File.Delete(temporary);
            _lock.Dispose();
        }
    }
}
