namespace FaceForge.Occlusion;

/// <summary>An occluder painted onto a real face by its landmarks (<see cref="OccluderPainter"/>).</summary>
public enum OcclusionKind
{
    /// <summary>A face-mask image (<see cref="MaskOverlay"/>) over nose, mouth and chin.</summary>
    Mask,
    /// <summary>Dark glasses over both eyes.</summary>
    Sunglasses,
    /// <summary>A hand over a random part of the face.</summary>
    Hand,
    /// <summary>A patterned scarf over the mouth and chin.</summary>
    Scarf,
    /// <summary>A flat object covering the left, right, upper or lower half of the face.</summary>
    HalfCover,
}

/// <summary>The command-line names of <see cref="OcclusionKind"/>: mask, sunglasses, hand, scarf, half-cover.</summary>
public static class OcclusionKinds
{
    /// <summary>Every kind.</summary>
    public static IReadOnlyList<OcclusionKind> All { get; } = Enum.GetValues<OcclusionKind>();

    /// <summary>The name of <paramref name="kind"/>.</summary>
    public static string Name(OcclusionKind kind) => kind == OcclusionKind.HalfCover ? "half-cover" : kind.ToString().ToLowerInvariant();

    /// <summary>Kinds from a comma-separated list of names, or "all".</summary>
    /// <exception cref="ArgumentException">An unknown name (the message lists the known ones).</exception>
    public static IReadOnlyList<OcclusionKind> Parse(string text)
    {
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names is [var only] && only.Equals("all", StringComparison.OrdinalIgnoreCase)) return All;
        var kinds = new List<OcclusionKind>();
        foreach (string part in names)
        {
            if (part.Equals("all", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"'all' already names every occluder: use it alone, or list some of {string.Join(", ", All.Select(Name))} (got '{text}').");
            var kind = All.Cast<OcclusionKind?>().FirstOrDefault(k => Name(k!.Value).Equals(part, StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"Unknown occluder '{part}': use all, or some of {string.Join(", ", All.Select(Name))}.");
            if (!kinds.Contains(kind)) kinds.Add(kind);
        }
        if (kinds.Count == 0) throw new ArgumentException("No occluder named: use all, or some of " + string.Join(", ", All.Select(Name)) + ".");
        return kinds;
    }
}
