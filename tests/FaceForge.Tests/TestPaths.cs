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

    public static string NewTempDirectory(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "faceforge-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FaceForge.sln"))) return dir.FullName;
        throw new InvalidOperationException("FaceForge.sln not found above " + AppContext.BaseDirectory);
    }
}
