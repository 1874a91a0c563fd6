namespace FaceForge;

/// <summary>
/// Writes a folder whole or not at all, as <see cref="AtomicFile"/> writes a file: the content goes to a hidden staging
/// folder and takes the target's place only once complete. A failure while writing, a full disk included, deletes the
/// staging folder and leaves the target as it was.
/// </summary>
/// <remarks>
/// A missing target is staged beside it (<c>.NAME.{guid}.new</c>) and renamed into place. An existing one is staged
/// inside itself (<c>NAME/.faceforge-new.{guid}</c>) and its entries are exchanged by renames within it, so the folder
/// keeps its permissions and works as a mount point or through a symbolic link; the old entries sit in
/// <c>NAME/.faceforge-old.{guid}</c> until the new ones are in (where a process killed during the exchange leaves them).
/// Replacing needs room for the old and the new content together. Not for two writers of one target at once.
/// </remarks>
public static class AtomicFolder
{
    private const string NewPrefix = ".faceforge-new.", OldPrefix = ".faceforge-old.";

    /// <summary>
    /// Runs <paramref name="write"/> on a new empty folder and, when it returns, puts that folder's content in
    /// <paramref name="path"/>'s place (the folder and its parents are created when missing).
    /// </summary>
    /// <param name="path">The folder to write.</param>
    /// <param name="write">Fills the folder it is given (not yet <paramref name="path"/>).</param>
    /// <exception cref="IOException">A full or read-only disk (naming <paramref name="path"/>), or an exchange of entries that failed half-way (naming where the old and the new entries are).</exception>
    public static void Write(string path, Action<string> write) => Write(path, staged => { write(staged); return 0; });

    /// <inheritdoc cref="Write(string, Action{string})"/>
    public static T Write<T>(string path, Func<string, T> write)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string unique = Guid.NewGuid().ToString("N");
        bool exists = Directory.Exists(full);
        string staged = exists ? Path.Combine(full, NewPrefix + unique) : Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{unique}.new");
        try
        {
            if (exists) DeleteStale(full);
            else DeleteStaleBeside(full);
            Directory.CreateDirectory(staged);
            var result = write(staged);
            if (exists) Exchange(full, staged, Path.Combine(full, OldPrefix + unique));
            else Directory.Move(staged, full);
            return result;
        }
        catch (Exception e) when (e is not FolderNotWrittenException && DiskFailure(e) is { } disk)
        {
            // The machine's message may name no file (a copy's ENOSPC) or only the staging folder: name the target.
            throw new FolderNotWrittenException($"'{full}' was not written ({disk.Message.Trim().TrimEnd('.')}); it is as it was before.", disk.HResult);
        }
        finally
        {
            TryDelete(staged);
        }
    }

    /// <summary>Moves the target's entries into <paramref name="old"/>, the staged ones up, then deletes the old ones.</summary>
    private static void Exchange(string target, string staged, string old)
    {
        Directory.CreateDirectory(old);
        var current = Directory.EnumerateFileSystemEntries(target).Where(e => !IsOurs(Path.GetFileName(e))).ToList();
        var moved = new List<string>();
        try
        {
            foreach (string entry in current)
            {
                Move(entry, Path.Combine(old, Path.GetFileName(entry)));
                moved.Add(entry);
            }
        }
        catch
        {
            // Nothing new is in yet: put back what was moved; the staged content is deleted by the caller.
            foreach (string entry in moved) Move(Path.Combine(old, Path.GetFileName(entry)), entry);
            TryDelete(old);
            throw;
        }
        try
        {
            foreach (string entry in Directory.EnumerateFileSystemEntries(staged).ToList()) Move(entry, Path.Combine(target, Path.GetFileName(entry)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Half exchanged: keep both halves where they are, and say where.
            string kept = Path.Combine(target, NewPrefix + "kept." + Guid.NewGuid().ToString("N"));
            Directory.Move(staged, kept);
            throw new IOException($"'{target}' was replaced only in part ({e.Message.Trim().TrimEnd('.')}): the old entries are in '{old}', the new ones not yet moved in '{kept}'.", e);
        }
        TryDelete(old);
    }

    private static void Move(string from, string to)
    {
        if (Directory.Exists(from)) Directory.Move(from, to);
        else File.Move(from, to);
    }

    private static bool IsOurs(string name) => name.StartsWith(NewPrefix, StringComparison.Ordinal) || name.StartsWith(OldPrefix, StringComparison.Ordinal);

    /// <summary>Staging folders of writes that were killed (an hour old or more: younger ones may still be written).</summary>
    private static void DeleteStale(string target)
    {
        foreach (string folder in Directory.EnumerateDirectories(target, NewPrefix + "*"))
            if (!Path.GetFileName(folder).StartsWith(NewPrefix + "kept.", StringComparison.Ordinal) && Abandoned(folder))
                TryDelete(folder);
    }

    /// <summary>
    /// Staging folders of a missing target that an interrupted writer (Ctrl+C, kill) left beside it, an hour old or
    /// more (a younger one may be another writer's).
    /// </summary>
    private static void DeleteStaleBeside(string target)
    {
        string parent = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(parent)) return;
        foreach (string folder in Directory.EnumerateDirectories(parent, $".{Path.GetFileName(target)}.*.new"))
            if (Abandoned(folder))
                TryDelete(folder);
    }

    /// <summary>Untouched for an hour: a staging folder no live writer is still filling.</summary>
    private static bool Abandoned(string folder) => DateTime.UtcNow - Directory.GetLastWriteTimeUtc(folder) >= TimeSpan.FromHours(1);

    /// <summary>A full or read-only disk behind <paramref name="e"/>, also from parallel writers (an AggregateException).</summary>
    private static IOException? DiskFailure(Exception e) => e switch
    {
        IOException io when DiskProblem.Is(io) => io,
        AggregateException all => all.InnerExceptions.Select(DiskFailure).FirstOrDefault(d => d is not null),
        _ => null,
    };

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind under a staging name: the target is whole either way.
        }
    }

    /// <summary>A folder write that failed on a full or read-only disk, the target named (not wrapped again by an enclosing write).</summary>
    private sealed class FolderNotWrittenException(string message, int hresult) : IOException(message, hresult);
}
