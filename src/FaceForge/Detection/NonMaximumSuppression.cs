namespace FaceForge.Detection;

/// <summary>
/// Greedy non-maximum suppression: best score first, each kept box suppresses later ones overlapping it by more than
/// the threshold. Overlap counts pixels inclusively (+1 on each side), as RetinaFace's and Faster R-CNN's reference
/// implementation (py_cpu_nms) does, so that ported detectors keep the same boxes.
/// </summary>
public static class NonMaximumSuppression
{
    /// <summary>The faces kept by <see cref="Apply(IReadOnlyList{FaceBox}, IReadOnlyList{float}, float, int)"/>, best first.</summary>
    public static List<DetectedFace> Apply(IReadOnlyList<DetectedFace> faces, DetectorOptions options) =>
        Apply(faces.Select(f => f.Box).ToList(), faces.Select(f => f.Score).ToList(), options.NmsThreshold, options.MaxFaces).Select(i => faces[i]).ToList();

    /// <summary>Indices of the boxes kept, best score first.</summary>
    public static List<int> Apply(IReadOnlyList<FaceBox> boxes, IReadOnlyList<float> scores, float threshold, int maxKeep = int.MaxValue)
    {
        var order = Enumerable.Range(0, boxes.Count).OrderByDescending(i => scores[i]).ToArray();
        var suppressed = new bool[boxes.Count];
        var keep = new List<int>();
        foreach (int i in order)
        {
            if (suppressed[i]) continue;
            keep.Add(i);
            if (keep.Count >= maxKeep) break;
            var a = boxes[i];
            float areaA = (a.Right - a.Left + 1) * (a.Bottom - a.Top + 1);
            foreach (int j in order)
            {
                if (suppressed[j] || j == i) continue;
                var b = boxes[j];
                float w = MathF.Max(0, MathF.Min(a.Right, b.Right) - MathF.Max(a.Left, b.Left) + 1);
                float h = MathF.Max(0, MathF.Min(a.Bottom, b.Bottom) - MathF.Max(a.Top, b.Top) + 1);
                float inter = w * h;
                float areaB = (b.Right - b.Left + 1) * (b.Bottom - b.Top + 1);
                if (inter / (areaA + areaB - inter) > threshold) suppressed[j] = true;
            }
            suppressed[i] = true;
        }
        return keep;
    }
}
