using System.Text.RegularExpressions;

namespace FaceForge.Server;

/// <summary>
/// Which gallery and subject names the service accepts: letters, digits, '_', '-' and (subjects) '.', not starting
/// with a dot or a dash. Names reach SQL only as parameters and never a file path, but refusing anything else keeps
/// path traversal, quoting tricks and control characters out of logs, URLs and listings altogether.
/// </summary>
internal static partial class NameRules
{
    public const int MaxSubjectLength = 128;

    /// <summary>Why <paramref name="name"/> cannot name a gallery, or null.</summary>
    public static string? GalleryProblem(string name) =>
        GalleryPattern().IsMatch(name) ? null
        : $"'{Shown(name)}' is not a gallery name (1 to 64 letters, digits, '_' or '-', starting with a letter or digit)";

    /// <summary>Why <paramref name="id"/> cannot be a subject id, or null.</summary>
    public static string? SubjectProblem(string id) =>
        SubjectPattern().IsMatch(id) ? null
        : $"'{Shown(id)}' is not a subject id (1 to {MaxSubjectLength} letters, digits, '_', '-' or '.', starting with a letter or digit)";

    /// <summary>The name as it may be echoed: at most 80 characters, control characters replaced.</summary>
    private static string Shown(string name) => ApiProblemException.Quote(name, 80) + (name.Length > 80 ? "…" : "");

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\z")]
    private static partial Regex GalleryPattern();

    [GeneratedRegex(@"^[\p{L}\p{N}][\p{L}\p{N}_.\-]{0,127}\z")]
    private static partial Regex SubjectPattern();
}
