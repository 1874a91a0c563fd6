using FaceForge.Data;

namespace FaceForge.Cli.Commands;

/// <summary>The note that folder commands print when photos under a dataset folder are not part of the set (<see cref="ImageFolderDataset.FindUnread"/>).</summary>
internal static class UnreadFilesNote
{
    /// <summary>Writes one note naming the first few unread files and why; nothing when every photo is read. Returns the files.</summary>
    public static IReadOnlyList<(string Path, string Reason)> Write(TextWriter error, ImageFolderDataset set, string what)
    {
        var unread = set.FindUnread();
        if (unread.Count > 0)
            error.WriteLine($"note: {unread.Count} photo file(s) under '{set.Root}' were not {what}: "
                + ProgressReporter.FirstFew(unread.Select(u => $"{Path.GetRelativePath(set.Root, u.Path)} ({u.Reason})").ToList(), "; ") + ".");
        return unread;
    }
}
