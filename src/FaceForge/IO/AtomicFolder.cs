namespace FaceForge;

/// <summary>
/// Writes a folder whole or not at all, as <see cref="AtomicFile"/> writes a file: the content goes to a new hidden
/// sibling folder, which takes the target's place (replacing whatever the target held) only once it is complete. A
/// failure, a full disk included, deletes the sibling and leaves the target as it was.
/// </summary>
/// <remarks>
/// Replacing takes two renames (the old folder aside, the new one in); a process killed between them leaves the old
/// content in ".NAME.*.old" beside the target, never a half-written NAME. The old and the new content coexist until
/// the end, so replacing needs room for both.
/// </remarks>
public static class AtomicFolder
{
    /// <summary>
    /// Runs <paramref name="write"/> on a new empty folder beside <paramref name="path"/> and, when it returns, puts
    /// that folder in <paramref name="path"/>'s place.
    /// </summary>
    /// <param name="path">The folder to write (its parent is created when missing).</param>
    /// <param name="write">Fills the folder it is given (not yet at <paramref name="path"/>).</param>
    public static T Write<T>(string path, Func<string, T> write)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(full)!, name = Path.GetFileName(full), unique = Guid.NewGuid().ToString("N");
        string staged = Path.Combine(parent, $".{name}.{unique}.new"), old = Path.Combine(parent, $".{name}.{unique}.old");
        bool replaced = false;
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(staged);
            var result = write(staged);
            bool aside = Directory.Exists(full);
            if (aside) Directory.Move(full, old);
            try
            {
                Directory.Move(staged, full);
            }
            catch
            {
                if (aside) Directory.Move(old, full);
                throw;
            }
            replaced = true;
            return result;
        }
        catch (Exception e) when (DiskFailure(e) is { } disk)
        {
            // The machine's message may name no file (a copy's ENOSPC) or only the hidden folder: name the target.
            throw new IOException($"'{full}' was not written ({disk.Message.Trim().TrimEnd('.')}); it is as it was before.", disk.HResult);
        }
        finally
        {
            TryDelete(staged);
            if (replaced) TryDelete(old);
        }
    }

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
            // Left behind, named as a temporary: the new content (or the old, on failure) is in place either way.
        }
    }
}
