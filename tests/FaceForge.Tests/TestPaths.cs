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

    /// <summary>A new folder under this test process's scratch root, which is deleted when the process exits.</summary>
    public static string NewTempDirectory(string name)
    {
        string dir = Path.Combine(RunRoot.Value, $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// One root per test process (faceforge-tests/run-PID-GUID), deleted at exit unless FACEFORGE_KEEP_TEST_FILES=1;
    /// roots left by processes that no longer run (killed, crashed) are deleted when the next run starts. Without this
    /// every run left its models, galleries and datasets behind: 21 GB after a day of test runs.
    /// </summary>
    private static readonly Lazy<string> RunRoot = new(() =>
    {
        string parent = Path.Combine(Path.GetTempPath(), "faceforge-tests");
        Directory.CreateDirectory(parent);
        foreach (var stale in Directory.EnumerateDirectories(parent, "run-*"))
            if (int.TryParse(Path.GetFileName(stale).Split('-')[1], out int pid) && !IsRunning(pid)) TryDelete(stale);
        string root = Path.Combine(parent, $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        if (Environment.GetEnvironmentVariable("FACEFORGE_KEEP_TEST_FILES") != "1")
            AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
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
            // Scratch only: a file still open elsewhere keeps its folder until the next run's sweep.
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FaceForge.sln"))) return dir.FullName;
        throw new InvalidOperationException("FaceForge.sln not found above " + AppContext.BaseDirectory);
    }
}
