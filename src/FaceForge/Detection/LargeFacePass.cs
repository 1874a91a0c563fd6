namespace FaceForge.Detection;

/// <summary>
/// A second, coarser look for faces too large for a RetinaFace network's anchors. The largest anchor of
/// mobilenet0.25 is 256 pixels of the network's input, so a face that fills a photo brought down to 640 pixels (a
/// selfie, an ID photo, a close-up) comes out as several confident boxes around parts of it. When the first pass
/// finds a face near that size, the image runs again at half the scale or less; a face found there beyond the first
/// pass's range is added unless the first pass already has it, and the boxes that lie mostly inside it (its parts,
/// which the second pass does not find) are dropped.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class LargeFacePass
{
    /// <summary>
    /// Scale of the second pass for a <paramref name="width"/> x <paramref name="height"/> photo, relative to the
    /// first pass's input (the photo divided by <paramref name="back"/>): half at most, and small enough that the
    /// second input's longer side is at most 320 pixels, so a face filling it fits the anchors whatever --max-side was.
    /// </summary>
    public static float Scale(int width, int height, float back) => MathF.Min(0.5f, 320f / MathF.Round(Math.Max(width, height) / back));

    /// <summary>A first-pass face with at least this share of its area inside a large face is a part of it.</summary>
    private const float PartInside = 0.6f;

    /// <summary>Whether <paramref name="first"/> (the first pass's faces, original pixels) holds a face of at least three quarters of <paramref name="largestAnchor"/> in the first pass's input pixels (original ones divided by <paramref name="back"/>).</summary>
    public static bool Needed(IEnumerable<DetectedFace> first, float back, int largestAnchor) =>
        first.Any(f => Side(f.Box) / back >= 0.75f * largestAnchor);

    /// <summary>
    /// The faces of both passes, best first. <paramref name="second"/>'s faces of at least <paramref name="largestAnchor"/>
    /// first-pass input pixels join unless a first-pass face overlaps them by IoU 0.5 or more (the first pass found
    /// that face whole, with finer landmarks). Then a face that lies mostly inside a kept large face (three quarters of
    /// the largest anchor or more; joining faces first, then by score) and is at least 0.3 of its size is dropped as a
    /// part of it, unless the second pass found it too as a face of its own: at the second pass's scale the large face
    /// fits the anchors and its parts no longer come out, while a face over it (a picture in the picture, a photo held
    /// up to the face) still does.
    /// </summary>
    public static List<DetectedFace> Merge(IReadOnlyList<DetectedFace> first, IReadOnlyList<DetectedFace> second, float back, int largestAnchor)
    {
        var joining = second.Where(f => Side(f.Box) / back >= largestAnchor && !first.Any(g => g.Box.IoU(f.Box) >= 0.5f)).OrderByDescending(f => f.Score);
        var kept = new List<DetectedFace>();
        foreach (var face in joining.Concat(first.OrderByDescending(f => f.Score)))
        {
            bool part = kept.Any(large => Side(large.Box) / back >= 0.75f * largestAnchor && IsPart(face.Box, large.Box)
                && !second.Any(g => g.Box.IoU(face.Box) >= 0.5f && g.Box.IoU(large.Box) < 0.5f));
            if (!part) kept.Add(face);
        }
        return kept.OrderByDescending(f => f.Score).ToList();
    }

    private static bool IsPart(FaceBox part, FaceBox whole)
    {
        float w = MathF.Min(part.Right, whole.Right) - MathF.Max(part.Left, whole.Left);
        float h = MathF.Min(part.Bottom, whole.Bottom) - MathF.Max(part.Top, whole.Top);
        return w > 0 && h > 0 && w * h >= PartInside * part.Area && Side(part) >= 0.3f * Side(whole);
    }

    private static float Side(FaceBox box) => MathF.Max(box.Width, box.Height);
}
