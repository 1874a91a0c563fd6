using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>
/// Checks for a data command whose --out the new set replaces (with --force): the output apart from the image root, and
/// no other input inside the output, each refused before anything is read or written.
/// </summary>
internal static class ReplacedOutput
{
    /// <summary>Refuses an --out that is <paramref name="root"/>, holds it or lies inside it, and any input inside --out.</summary>
    public static void RequireApart(string target, string root, IEnumerable<(string Option, string? Path)> inputs)
    {
        if (Inside(target, root) || Inside(root, target))
            throw new UserErrorException($"--out: '{target}' is the image root, holds it or lies inside it; the sources would be overwritten or read back as sources. Choose a folder outside '{root}'.");
        foreach (var (option, path) in inputs)
            if (path is not null && Inside(path, target))
                throw new UserErrorException($"{option}: '{path}' lies inside --out '{target}', which the new set replaces; keep inputs outside it.");
    }

    /// <summary>Refuses an --out folder that already holds files, unless <paramref name="force"/>: the new <paramref name="what"/> would mix with them.</summary>
    public static void RequireEmptyFolder(string target, bool force, string what)
    {
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !force)
            throw new UserErrorException($"--out: '{target}' already holds files; the {what} would mix with them. Choose another --out, or pass --force to replace them.");
    }

    /// <summary>Whether <paramref name="inner"/> is <paramref name="outer"/> or lies inside it, symbolic links followed (a link to a folder of photos is that folder).</summary>
    internal static bool Inside(string inner, string outer) =>
        (Real(inner).TrimEnd('/') + "/").StartsWith(Real(outer).TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>The absolute path with every symbolic link among its existing components resolved (realpath); components that do not exist yet are kept.</summary>
    internal static string Real(string path, int depth = 0)
    {
        string current = "/";
        foreach (string part in Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            // A link's target may sit behind other links: resolved in turn (a cycle stops after 40, as the kernel does).
            if (info.LinkTarget is not null && depth < 40 && (info is DirectoryInfo ? Directory.ResolveLinkTarget(next, true) : File.ResolveLinkTarget(next, true)) is { } target)
                next = Real(target.FullName, depth + 1);
            current = next;
        }
        return current;
    }

    /// <summary>The --force of a command that writes one file.</summary>
    public static Option<bool> ForceOption() => new("--force") { Description = "Replace the --out file if it exists (the new one is written aside and renamed over it once complete)." };

    /// <summary>Refuses an --out that is a folder, or an existing file without --force: a slip in --out must not replace a gallery or a model.</summary>
    public static void RequireNewFile(string path, bool force, string option = "--out")
    {
        if (Directory.Exists(path)) throw new UserErrorException($"{option}: '{path}' is a folder; give a file name.");
        if (File.Exists(path) && !force) throw new UserErrorException($"{option}: '{path}' already exists; choose another file, or pass --force to replace it.");
    }
}
