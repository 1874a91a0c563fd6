using System.Globalization;

namespace FaceForge.Alignment;

/// <summary>
/// Reads a landmarks file: one face per line, a relative image path then x1 y1 … x5 y5, separated by whitespace
/// (the layout of ../shared/data/lfw/landmarks.txt). Blank lines and lines starting with '#' are ignored.
/// </summary>
public static class LandmarksFile
{
    /// <summary>Reads <paramref name="path"/> into a map from image path (with '/' separators) to landmarks.</summary>
    /// <exception cref="InvalidDataException">A line does not hold a path and ten numbers; the message names the file and line.</exception>
    public static IReadOnlyDictionary<string, FaceLandmarks> Read(string path)
    {
        var result = new Dictionary<string, FaceLandmarks>(StringComparer.Ordinal);
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
            }
            result[parts[0].Replace('\\', '/')] = FaceLandmarks.FromFlat(xy);
        }
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
