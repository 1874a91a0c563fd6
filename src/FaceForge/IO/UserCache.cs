namespace FaceForge;

/// <summary>FaceForge's per-user cache: $XDG_CACHE_HOME/faceforge, or ~/.cache/faceforge. Thread-safe.</summary>
public static class UserCache
{
    /// <summary>The cache folder <paramref name="name"/> (not created), read from the environment on each call.</summary>
    public static string Folder(string name)
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseDir = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
        return Path.Combine(baseDir, "faceforge", name);
    }
}
