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

    /// <summary>Whether <paramref name="inner"/> is <paramref name="outer"/> or lies inside it.</summary>
    internal static bool Inside(string inner, string outer) =>
        (Path.GetFullPath(inner).TrimEnd('/') + "/").StartsWith(Path.GetFullPath(outer).TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>The --force of a command that writes one file.</summary>
    public static Option<bool> ForceOption() => new("--force") { Description = "Replace the --out file if it exists (the new one is written aside and renamed over it once complete)." };

    /// <summary>Refuses an --out that is a folder, or an existing file without --force: a slip in --out must not replace a gallery or a model.</summary>
    public static void RequireNewFile(string path, bool force, string option = "--out")
    {
        if (Directory.Exists(path)) throw new UserErrorException($"{option}: '{path}' is a folder; give a file name.");
        if (File.Exists(path) && !force) throw new UserErrorException($"{option}: '{path}' already exists; choose another file, or pass --force to replace it.");
    }
}
