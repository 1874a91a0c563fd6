using System.Globalization;
using FaceForge.Alignment;
using FaceForge.Detection;

namespace FaceForge.Data;

/// <summary>One annotated face: its box and, when annotated, five landmarks.</summary>
/// <param name="Box">The box (x, y, x + w, y + h).</param>
/// <param name="Landmarks">The five landmarks, or null when the annotation has none (-1 entries).</param>
public sealed record AnnotatedFace(FaceBox Box, FaceLandmarks? Landmarks);

/// <summary>
/// Face-detection annotations in the RetinaFace/WIDER FACE <c>label.txt</c> layout: a line <c># relative/path.jpg</c>
/// per image, then one line per face, <c>x y w h</c> optionally followed by five <c>lx ly flag</c> triples (-1 when
/// absent) and a score. Lines with only a box are accepted.
/// </summary>
public static class FaceAnnotations
{
    /// <summary>The images in file order, each with its faces.</summary>
    /// <exception cref="InvalidDataException">A malformed line (the message names the file and line).</exception>
    public static List<(string Image, List<AnnotatedFace> Faces)> Read(string path)
    {
        var result = new List<(string, List<AnnotatedFace>)>();
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                string image = line[1..].Trim();
                if (image.Length == 0) throw new InvalidDataException($"{path}:{number}: '#' without an image path.");
                result.Add((image, []));
                continue;
            }
            if (result.Count == 0) throw new InvalidDataException($"{path}:{number}: a face line before any '# image' line.");
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = new float[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]) || Math.Abs(values[i]) > 100_000)
                    throw new InvalidDataException($"{path}:{number}: '{parts[i]}' is not a pixel coordinate (a finite number of at most 100000 in size).");
            if (values.Length < 4) throw new InvalidDataException($"{path}:{number}: expected at least 'x y w h', got {values.Length} numbers.");
            if (values[2] <= 0 || values[3] <= 0) throw new InvalidDataException($"{path}:{number}: box width and height must be positive (got {values[2]} x {values[3]}).");
            FaceLandmarks? landmarks = null;
            if (values.Length >= 19 && values[4] >= 0)
            {
                var xy = new float[10];
                for (int k = 0; k < 5; k++) (xy[2 * k], xy[2 * k + 1]) = (values[4 + 3 * k], values[5 + 3 * k]);
                landmarks = FaceLandmarks.FromFlat(xy);
            }
            result[^1].Item2.Add(new AnnotatedFace(new FaceBox(values[0], values[1], values[0] + values[2], values[1] + values[3]), landmarks));
        }
        if (result.Count == 0) throw new InvalidDataException($"{path}: no '# image' line: the file annotates no images.");
        return result;
    }
}
