using System.Diagnostics;

namespace FaceForge;

/// <summary>
/// A lock file naming the process that owns something (a run folder, a dataset being packed): created with
/// CreateNew, so only one process takes it; refused while its owner lives; taken over when the owner is dead (a kill
/// leaves the file behind). Dispose to release it.
/// </summary>
public sealed class OwnerLock : IDisposable
{
    private readonly string _path;
    private bool _released;

    private OwnerLock(string path) => _path = path;

    /// <summary>Takes <paramref name="path"/> for this process.</summary>
    /// <exception cref="LockedException">Another live process holds it.</exception>
    public static OwnerLock Acquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
                using (var writer = new StreamWriter(stream))
                    writer.Write(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return new OwnerLock(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (Owner(path) is { } pid && pid != Environment.ProcessId && IsAlive(pid)) throw new LockedException(path, pid);
                File.Delete(path); // its owner is dead (or is us): take it over
            }
        }
        throw new IOException($"Could not take the lock '{path}'.");
    }

    /// <summary>The pid written in a lock file, or null.</summary>
    public static int? Owner(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), out int pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        try { File.Delete(_path); } catch (IOException) { /* the folder is gone or read-only: nothing to release */ }
        catch (UnauthorizedAccessException) { /* likewise */ }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}

/// <summary>Another live process holds a lock.</summary>
/// <param name="path">The lock file.</param>
/// <param name="pid">Its owner.</param>
public sealed class LockedException(string path, int pid) : IOException($"'{path}' is held by process {pid}; wait for it to end, or stop it.")
{
    /// <summary>The owner's process id.</summary>
    public int Pid { get; } = pid;

    /// <summary>The lock file.</summary>
    public string LockPath { get; } = path;
}
