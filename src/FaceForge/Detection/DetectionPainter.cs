using FaceForge.Imaging;

namespace FaceForge.Detection;

/// <summary>Draws detections (box outlines, landmark dots, a score bar) onto a copy of an image, for people to look at.</summary>
public static class DetectionPainter
{
    private static readonly byte[][] LandmarkColours = [[255, 60, 60], [60, 255, 60], [60, 120, 255], [255, 220, 0], [255, 0, 255]];

    /// <summary>A copy of <paramref name="image"/> with <paramref name="faces"/> drawn in.</summary>
    public static RgbImage Draw(RgbImage image, IEnumerable<DetectedFace> faces)
    {
        var canvas = image.Clone();
        int thickness = Math.Max(2, Math.Max(image.Width, image.Height) / 400);
        foreach (var face in faces)
        {
            var b = face.Box;
            Rectangle(canvas, (int)b.Left, (int)b.Top, (int)b.Right, (int)b.Bottom, thickness, [0, 255, 0]);
            // Score as a bar above the box: full width at score 1.
            int bar = (int)((b.Right - b.Left) * face.Score);
            Fill(canvas, (int)b.Left, (int)b.Top - 2 * thickness - 2, (int)b.Left + bar, (int)b.Top - thickness - 2, [255, 255, 0]);
            if (face.Landmarks is { } marks)
            {
                var points = marks.ToArray();
                for (int i = 0; i < points.Length; i++)
                    Fill(canvas, (int)points[i].X - thickness, (int)points[i].Y - thickness, (int)points[i].X + thickness, (int)points[i].Y + thickness, LandmarkColours[i]);
            }
        }
        return canvas;
    }

    private static void Rectangle(RgbImage canvas, int left, int top, int right, int bottom, int thickness, byte[] colour)
    {
        Fill(canvas, left, top, right, top + thickness, colour);
        Fill(canvas, left, bottom - thickness, right, bottom, colour);
        Fill(canvas, left, top, left + thickness, bottom, colour);
        Fill(canvas, right - thickness, top, right, bottom, colour);
    }

    private static void Fill(RgbImage canvas, int left, int top, int right, int bottom, byte[] colour)
    {
        var pixels = canvas.Pixels;
        for (int y = Math.Max(0, top); y < Math.Min(canvas.Height, bottom); y++)
            for (int x = Math.Max(0, left); x < Math.Min(canvas.Width, right); x++)
                colour.CopyTo(pixels.Slice(3 * (y * canvas.Width + x), 3));
    }
}
