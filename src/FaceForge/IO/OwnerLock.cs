namespace FaceForge;

/// <summary>
/// A lock file naming the process that owns something (a run folder, a dataset being packed). The lock is the
/// operating system's: the file is held open exclusively (on Linux .NET takes an flock on it), so it ends with the
/// process, however it dies, and a second holder, in this process or another, is refused. The file also names the
/// owner's pid, for messages. Dispose to release it.
/// </summary>
public sealed class OwnerLock : IDisposable
{
    private readonly string _path;
    private readonly FileStream _stream;
    private bool _released;

    private OwnerLock(string path, FileStream stream)
    {
        _path = path;
        _stream = stream;
    }

    /// <summary>Takes <paramref name="path"/> for this process.</summary>
    /// <exception cref="LockedException">Another holder has it.</exception>
    public static OwnerLock Acquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        for (int attempt = 0; attempt < 5; attempt++)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            // A full or read-only disk is not somebody else's lock.
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && File.Exists(path) && !DiskProblem.Is(e))
            {
                throw new LockedException(path, Owner(path));
            }
            // The previous holder deletes the file as it releases it: a lock taken on a deleted file is no lock.
            if (!File.Exists(path))
            {
                stream.Dispose();
                continue;
            }
            var owner = new OwnerLock(path, stream);
            try
            {
                stream.SetLength(0);
                stream.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                stream.Flush();
            }
            catch
            {
                // A full disk takes the file but not the pid: release it, so no empty lock file is left behind.
                owner.Dispose();
                throw;
            }
            return owner;
        }
        throw new LockedException(path, Owner(path));
    }

    /// <summary>The pid written in a lock file, or null (none yet, or unreadable).</summary>
    /// <remarks>Read with the C library on Unix: .NET's own reads ask for a shared lock, which the holder's lock refuses.</remarks>
    public static int? Owner(string path)
    {
        try
        {
            string text;
            if (OperatingSystem.IsWindows()) text = File.ReadAllText(path);
            else
            {
                int fd = open(path, 0);
                if (fd < 0) return null;
                var buffer = new byte[32];
                long read = Read(fd, buffer);
                close(fd);
                text = read > 0 ? System.Text.Encoding.ASCII.GetString(buffer, 0, (int)read) : "";
            }
            return int.TryParse(text.Trim(), out int pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static unsafe long Read(int fd, byte[] buffer)
    {
        fixed (byte* start = buffer) return (long)read(fd, start, (nuint)buffer.Length);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern unsafe nint read(int fd, byte* buffer, nuint count);

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int close(int fd);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        // Deleted while still held, then closed: a waiter that opened this file before the delete fails to lock it or
        // finds it gone, and takes a new one.
        try { File.Delete(_path); } catch (IOException) { /* read-only or gone: the lock ends with the handle anyway */ }
        catch (UnauthorizedAccessException) { /* likewise */ }
        _stream.Dispose();
    }
}

/// <summary>Another holder has a lock.</summary>
/// <param name="path">The lock file.</param>
/// <param name="pid">Its owner, when the file names one.</param>
public sealed class LockedException(string path, int? pid) : IOException(pid is int p
    ? $"'{path}' is held by process {p}; wait for it to end, or stop it."
    : $"'{path}' is held by another process; wait for it to end, or stop it.")
{
    /// <summary>The owner's process id, when known.</summary>
    public int? Pid { get; } = pid;

    /// <summary>The lock file.</summary>
    public string LockPath { get; } = path;
}
