using System.Globalization;

namespace FaceForge.Evaluation;

/// <summary>
/// LFW's pairs.txt: a header "folds n", then per fold n matched lines "name i j" and n mismatched lines
/// "name1 i name2 j", fields separated by tabs (as LFW's own file; then a name may hold spaces) or by spaces. Image
/// paths come out as "Name/Name_0001.jpg".
/// </summary>
public static class LfwPairs
{
    /// <summary>Reads and checks <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">Bad header or line; the message names the file and line.</exception>
    public static IReadOnlyList<VerificationPair> Read(string path)
    {
        using var reader = new StreamReader(path);
        string header = reader.ReadLine() ?? throw new InvalidDataException($"{path}: empty pairs file.");
        string[] h = header.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (h.Length != 2 || !int.TryParse(h[0], out int folds) || !int.TryParse(h[1], out int perFold) || folds <= 0 || perFold <= 0 || (long)folds * perFold > 10_000_000)
            throw new InvalidDataException($"{path}:1: bad header '{header}': expected two positive integers, the fold count and pairs per class per fold (LFW: '10 300'), at most 10 million pairs.");
        var pairs = new List<VerificationPair>(folds * perFold * 2);
        for (int lineNumber = 2; pairs.Count < folds * perFold * 2; lineNumber++)
        {
            string line = reader.ReadLine() ?? throw new InvalidDataException($"{path}: ends after {pairs.Count} pairs; the header promises {folds * perFold * 2}.");
            // LFW's file separates fields by tabs; a line of 3 or 4 tab-separated fields is split on tabs alone, so a name
            // may hold spaces; any other line (spaces only, or "Name 1<TAB>4") is split on all whitespace.
            string[] p = line.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            bool tabs = p.Length is 3 or 4;
            if (!tabs) p = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string hint = tabs ? "" : " (a name with spaces needs tab-separated fields)";
            int fold = pairs.Count / (2 * perFold);
            pairs.Add(p.Length switch
            {
                3 => new VerificationPair(ImagePath(p[0], p[1], path, lineNumber, hint), ImagePath(p[0], p[2], path, lineNumber, hint), true, fold),
                4 => new VerificationPair(ImagePath(p[0], p[1], path, lineNumber, hint), ImagePath(p[2], p[3], path, lineNumber, hint), false, fold),
                _ => throw new InvalidDataException($"{path}:{lineNumber}: expected 'name i j' or 'name1 i name2 j', found '{line}'{hint}."),
            });
        }
        return pairs;
    }

    /// <summary>
    /// The pairs with each image that is missing under <paramref name="imagesRoot"/> as named (Name_0001.jpg) but
    /// present as a PNG of the same name taken instead: the aligned crops `data align` and `data split-lfw --landmarks`
    /// write.
    /// </summary>
    public static IReadOnlyList<VerificationPair> PreferCrops(IReadOnlyList<VerificationPair> pairs, string imagesRoot)
    {
        string Pick(string image) =>
            !File.Exists(Path.Combine(imagesRoot, image)) && Path.ChangeExtension(image, ".png") is var png && File.Exists(Path.Combine(imagesRoot, png)) ? png : image;
        return pairs.Select(p => p with { First = Pick(p.First), Second = Pick(p.Second) }).ToList();
    }

    /// <summary>Fails with the first pair that names an image missing under <paramref name="imagesRoot"/>.</summary>
    public static void CheckImagesExist(IReadOnlyList<VerificationPair> pairs, string imagesRoot, string pairsPath)
    {
        for (int i = 0; i < pairs.Count; i++)
        {
            foreach (string image in new[] { pairs[i].First, pairs[i].Second })
            {
                if (!File.Exists(Path.Combine(imagesRoot, image)))
                    throw new FileNotFoundException($"{pairsPath}: pair {i + 1} names '{image}', which is not in '{imagesRoot}'.");
            }
        }
    }

    /// <summary>Parses a fold range such as "6-10" or "1,3,5" (1-based) into 0-based fold indices.</summary>
    public static IReadOnlySet<int> ParseFolds(string text)
    {
        var folds = new SortedSet<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] range = part.Split('-');
            if (range.Length is < 1 or > 2 || !range.All(r => int.TryParse(r, out int v) && v >= 1))
                throw new ArgumentException($"Bad fold list '{text}': use 1-based numbers and ranges such as '6-10' or '1,3,5'.", nameof(text));
            int from = int.Parse(range[0], CultureInfo.InvariantCulture), to = int.Parse(range[^1], CultureInfo.InvariantCulture);
            if (to < from) throw new ArgumentException($"Bad fold range '{part}': the end is before the start.", nameof(text));
            for (int f = from; f <= to; f++) folds.Add(f - 1);
        }
        return folds;
    }

    private static string ImagePath(string name, string number, string path, int lineNumber, string hint)
    {
        if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n <= 0)
            throw new InvalidDataException($"{path}:{lineNumber}: '{number}' is not a positive image number{hint}.");
        return $"{name}/{name}_{n:D4}.jpg";
    }
}
