namespace FaceForge.Detection;

/// <summary>
/// A second, coarser look for faces too large for a RetinaFace network's anchors. The largest anchor of
/// mobilenet0.25 is 256 pixels of the network's input, so a face that fills a photo brought down to 640 pixels (a
/// selfie, an ID photo, a close-up) comes out as several confident boxes around parts of it. When the first pass
/// finds a face near that size, the image runs again at half the scale; a face found there beyond the first pass's
/// range is added unless the first pass already has it, and the first pass's boxes that lie mostly inside it (its
/// parts) are dropped.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class LargeFacePass
{
    /// <summary>Scale of the second pass, relative to the first's input.</summary>
    public const float Scale = 0.5f;

    /// <summary>A first-pass face with at least this share of its area inside a large face is a part of it.</summary>
    private const float PartInside = 0.6f;

    /// <summary>Whether <paramref name="first"/> (the first pass's faces, original pixels) holds a face of at least three quarters of <paramref name="largestAnchor"/> in the first pass's input pixels (original ones divided by <paramref name="back"/>).</summary>
    public static bool Needed(IEnumerable<DetectedFace> first, float back, int largestAnchor) =>
        first.Any(f => Side(f.Box) / back >= 0.75f * largestAnchor);

    /// <summary>
    /// The faces of both passes, best first. <paramref name="second"/>'s faces of at least <paramref name="largestAnchor"/>
    /// first-pass input pixels join unless a first-pass face overlaps them by IoU 0.5 or more (the first pass found
    /// that face whole, with finer landmarks). Then every face that lies mostly inside a kept large face (three
    /// quarters of the largest anchor or more; joining faces first, then by score) and is at least 0.4 of its size is
    /// dropped as a part of it.
    /// </summary>
    public static List<DetectedFace> Merge(IReadOnlyList<DetectedFace> first, IEnumerable<DetectedFace> second, float back, int largestAnchor)
    {
        var joining = second.Where(f => Side(f.Box) / back >= largestAnchor && !first.Any(g => g.Box.IoU(f.Box) >= 0.5f)).OrderByDescending(f => f.Score);
        var kept = new List<DetectedFace>();
        foreach (var face in joining.Concat(first.OrderByDescending(f => f.Score)))
            if (!kept.Any(k => Side(k.Box) / back >= 0.75f * largestAnchor && IsPart(face.Box, k.Box))) kept.Add(face);
        return kept.OrderByDescending(f => f.Score).ToList();
    }

    private static bool IsPart(FaceBox part, FaceBox whole)
    {
        float w = MathF.Min(part.Right, whole.Right) - MathF.Max(part.Left, whole.Left);
        float h = MathF.Min(part.Bottom, whole.Bottom) - MathF.Max(part.Top, whole.Top);
        return w > 0 && h > 0 && w * h >= PartInside * part.Area && Side(part) >= 0.4f * Side(whole);
    }

    private static float Side(FaceBox box) => MathF.Max(box.Width, box.Height);
}
