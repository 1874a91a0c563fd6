namespace FaceForge;

/// <summary>
/// One field of the tab-separated lists FaceForge writes beside its outputs (skipped.txt, several-faces.txt): a file
/// name may hold a tab or a line break (Linux allows both), which would split its row, so those and the backslash are
/// written as <c>\t</c>, <c>\n</c>, <c>\r</c> and <c>\\</c>. Every other name is written as it is.
/// </summary>
internal static class ListingField
{
    public static string Escape(string field) =>
        field.AsSpan().IndexOfAny('\\', '\t', '\n') < 0 && !field.Contains('\r')
            ? field
            : field.Replace("\\", "\\\\").Replace("\t", "\\t").Replace("\n", "\\n").Replace("\r", "\\r");
}
