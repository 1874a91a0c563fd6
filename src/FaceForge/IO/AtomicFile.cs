namespace FaceForge;

/// <summary>
/// Writes files so that a crash or a full disk never leaves a half-written file under the final name: the data
/// goes to a temporary file beside the target, which is then renamed over it.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> atomically. With <paramref name="flush"/> false the
    /// data is not forced to disk before the rename (a crash still never leaves a half-written file under the name,
    /// but a power loss may): for many small files that a caller flushes together afterwards (<see cref="FlushToDisk"/>)
    /// before it writes what marks them complete; flushing then costs a tenth of flushing each as it is written.
    /// </summary>
    public static void WriteAllBytes(string path, byte[] bytes, bool flush = true) => Write(path, stream => stream.Write(bytes), flush);

    /// <summary>Forces the written files <paramref name="paths"/> to disk (fsync each, on the calling thread).</summary>
    public static void FlushToDisk(IEnumerable<string> paths)
    {
        foreach (string path in paths)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Runs <paramref name="write"/> on a temporary file stream and renames the file to <paramref name="path"/>
    /// only if it returns normally.
    /// </summary>
    public static void Write(string path, Action<FileStream> write) => Write(path, write, flush: true);

    private static void Write(string path, Action<FileStream> write, bool flush)
    {
        string temporary = TemporaryName(path);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                write(stream);
                stream.Flush(flushToDisk: flush);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private static string TemporaryName(string path)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }
}
