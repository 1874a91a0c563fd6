namespace FaceForge.Tests;

/// <summary>Locations of the repository, ../shared, and scratch folders for tests.</summary>
internal static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>../shared beside the repository, or null when absent.</summary>
    public static string? Shared => Directory.Exists(Path.Combine(RepositoryRoot, "..", "shared")) ? Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared")) : null;

    public static string SharedOrSkipMessage(string relative, out string? path)
    {
        path = Shared is { } shared && (File.Exists(Path.Combine(shared, relative)) || Directory.Exists(Path.Combine(shared, relative)))
            ? Path.Combine(shared, relative) : null;
        return $"../shared/{relative} is missing (expected beside the repository at {Path.Combine(RepositoryRoot, "..", "shared")})";
    }

    /// <summary>A new folder under this test process's scratch root (short names: PostgreSQL's socket lives in one, and a socket path may not pass 107 bytes).</summary>
    public static string NewTempDirectory(string name)
    {
        string dir = Path.Combine(RunRoot.Value, $"{name}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// One root per test process, faceforge-tests/rPID-XXXXXXXX, removed when the process exits if the test runner lets
    /// the exit handler finish (it often stops the host first); a root whose process no longer runs is removed by the
    /// next run, and by .ci/run on its way out. With FACEFORGE_KEEP_TEST_FILES=1 the root is named keep-PID-XXXXXXXX and left alone. Without this
    /// every run left its models, galleries and datasets behind: 21 GB after a day of test runs here.
    /// </summary>
    private static readonly Lazy<string> RunRoot = new(() =>
    {
        string parent = Path.Combine(Path.GetTempPath(), "faceforge-tests");
        Directory.CreateDirectory(parent);
        foreach (var stale in Directory.EnumerateDirectories(parent))
        {
            string folder = Path.GetFileName(stale);
            if (folder.StartsWith("keep-", StringComparison.Ordinal)) continue;
            int dash = folder.IndexOf('-');
            if (folder.StartsWith('r') && dash > 1 ? int.TryParse(folder[1..dash], out int pid) && !IsRunning(pid)
                     : Directory.GetLastWriteTimeUtc(stale) < DateTime.UtcNow.AddDays(-1)) // the flat layout of earlier versions
                TryDelete(stale);
        }
        bool keep = Environment.GetEnvironmentVariable("FACEFORGE_KEEP_TEST_FILES") == "1";
        string root = Path.Combine(parent, $"{(keep ? "keep-" : "r")}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(root);
        if (!keep) AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    });

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Scratch only: a file still open elsewhere keeps its folder until a later run's sweep.
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FaceForge.sln"))) return dir.FullName;
        throw new InvalidOperationException("FaceForge.sln not found above " + AppContext.BaseDirectory);
    }
}
