using System.Globalization;

namespace FaceForge.Alignment;

/// <summary>
/// Reads a landmarks file: one face per line, a relative image path then x1 y1 … x5 y5, separated by whitespace
/// (the layout of ../shared/data/lfw/landmarks.txt). Blank lines and lines starting with '#' are ignored.
/// </summary>
public static class LandmarksFile
{
    private const float MaxCoordinate = 100_000;

    /// <summary>Reads <paramref name="path"/> into a map from image path (with '/' separators) to landmarks.</summary>
    /// <exception cref="InvalidDataException">A line does not hold a path and ten numbers; the message names the file and line.</exception>
    public static IReadOnlyDictionary<string, FaceLandmarks> Read(string path)
    {
        var result = new Dictionary<string, FaceLandmarks>(StringComparer.Ordinal);
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed[0] == '#') continue;
            string[] parts = trimmed.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 1 + 2 * FaceLandmarks.Count)
                throw new InvalidDataException($"{path}:{lineNumber}: expected an image path and {2 * FaceLandmarks.Count} numbers, found {parts.Length - 1} numbers.");
            var xy = new float[2 * FaceLandmarks.Count];
            for (int i = 0; i < xy.Length; i++)
            {
                if (!float.TryParse(parts[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out xy[i]) || !float.IsFinite(xy[i]))
                    throw new InvalidDataException($"{path}:{lineNumber}: '{parts[i + 1]}' is not a number.");
                // Pixel coordinates: no photo is a hundred thousand pixels across.
                if (Math.Abs(xy[i]) > MaxCoordinate)
                    throw new InvalidDataException($"{path}:{lineNumber}: coordinate {parts[i + 1]} is not a pixel position (|value| above {MaxCoordinate}).");
            }
            string name = parts[0].Replace('\\', '/');
            if (lineOf.TryGetValue(name, out int earlier))
                throw new InvalidDataException($"{path}:{lineNumber}: '{name}' is listed again (first at line {earlier}).");
            var points = FaceLandmarks.FromFlat(xy);
            if (System.Numerics.Vector2.Distance(points.LeftEye, points.RightEye) < 1)
                throw new InvalidDataException($"{path}:{lineNumber}: the eyes of '{name}' are less than a pixel apart.");
            lineOf[name] = lineNumber;
            result[name] = points;
        }
        // Every use needs points for some image; an empty file would score nothing and print NaN.
        if (result.Count == 0) throw new InvalidDataException($"{path}: no landmarks in the file (one line per image: path x1 y1 ... x5 y5).");
        return result;
    }

    /// <summary>Writes landmarks in the same layout, atomically.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, FaceLandmarks>> entries)
    {
        var text = new System.Text.StringBuilder();
        foreach (var (name, landmarks) in entries)
        {
            text.Append(name);
            foreach (float v in landmarks.ToFlat())
                text.Append('\t').Append(v.ToString("0.00", CultureInfo.InvariantCulture));
            text.Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
