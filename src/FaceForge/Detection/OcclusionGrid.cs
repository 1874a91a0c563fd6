namespace FaceForge.Detection;

/// <summary>Occlusion on the stride-8 grid an occlusion-aware detector predicts on.</summary>
public static class OcclusionGrid
{
    /// <summary>Cell side in pixels.</summary>
    public const int Stride = 8;

    /// <summary>
    /// Per cell (rows = ceil(H/8), columns = ceil(W/8), row-major): whether most of its pixels are occluded, from a
    /// per-pixel map of a <paramref name="width"/> x <paramref name="height"/> image.
    /// </summary>
    public static bool[] Cells(ReadOnlySpan<bool> occluded, int width, int height)
    {
        if (occluded.Length != width * height) throw new ArgumentException($"Map of {occluded.Length} pixels for a {width}x{height} image.", nameof(occluded));
        int cols = (width + Stride - 1) / Stride, rows = (height + Stride - 1) / Stride;
        var cells = new bool[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int hidden = 0, all = 0;
                for (int y = Stride * r; y < Math.Min(height, Stride * (r + 1)); y++)
                    for (int x = Stride * c; x < Math.Min(width, Stride * (c + 1)); x++, all++)
                        if (occluded[y * width + x]) hidden++;
                cells[r * cols + c] = 2 * hidden > all;
            }
        return cells;
    }
}
