using System.CommandLine;
using FaceForge.Embedding;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge verify`: are two faces the same person?</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file.", Required = true };
        var first = new Argument<string?>("A") { Description = "First image.", Arity = ArgumentArity.ZeroOrOne };
        var second = new Argument<string?>("B") { Description = "Second image.", Arity = ArgumentArity.ZeroOrOne };
        var pairs = new Option<string?>("--pairs") { Description = "A file of image pairs, one pair per line (two paths separated by a tab, or by spaces when the paths have none): all scored in one process, the model loaded once." };
        var landmarks = ImageInputs.LandmarksOption();
        var detector = ImageInputs.DetectorOption();
        var aligned = ImageInputs.AlignedOption();
        var threshold = new Option<double?>("--threshold") { Description = "Cosine threshold [default: the model's calibrated one]." };
        var json = new Option<bool>("--json") { Description = "Print JSON (score, threshold, same, quality: the lower of the two faces' qualities when the model carries one; no_face: the images in which no face was found; a list with --pairs)." };
        var command = new Command("verify", "Compare two faces (or every pair of a --pairs file): cosine similarity and a decision at the model's calibrated threshold.")
        {
            model, first, second, pairs, landmarks, detector, aligned, threshold, json,
        };
        var foreign = new ForeignOnnxOptions();
        foreign.AddTo(command);
        command.SetAction(parse =>
        {
            var list = PairList(parse.GetValue(first), parse.GetValue(second), parse.GetValue(pairs));
            using var embedder = ModelInputs.OpenEmbedder(parse.GetValue(model)!, "--model", foreign.Read(parse));
            double? t = parse.GetValue(threshold) ?? embedder.Info.Threshold;
            if (t is double given && !(given >= -1 && given <= 1)) throw new UserErrorException($"--threshold: {given} is not a cosine in [-1, 1].");
            // Scores are compared with the threshold under the flip test it was calibrated with.
            var flip = Enum.TryParse<FlipMode>(embedder.Info.ThresholdFlip, out var calibrated) ? calibrated : FlipMode.Add;
            var unique = list.SelectMany(p => new[] { p.A, p.B }).Distinct().ToList();
            using var inputs = ImageInputs.From(parse, landmarks, detector, aligned, embedder);
            var embedded = inputs.EmbedAll(unique, flip);
            var faces = unique.Select((path, i) => (path, i)).ToDictionary(x => x.path, x => embedded[x.i]);
            // A pair with a faceless image keeps its place with a null score (the image is named on the error stream).
            var results = list.Select(p =>
            {
                var (a, b) = (faces[p.A], faces[p.B]);
                double? score = a is null || b is null ? null : Similarity.Cosine(a.Vector, b.Vector);
                // A pair is as trustworthy as its worse face (the error-versus-reject convention).
                double? quality = a?.Quality is double qa && b?.Quality is double qb ? Math.Min(qa, qb) : null;
                return new
                {
                    p.A, p.B, Score = score, Threshold = t, Same = t is double value && score is double s ? s > value : (bool?)null,
                    Quality = quality, QualityA = a?.Quality, QualityB = b?.Quality,
                    SigmaSqHarmonicMeanA = a?.SigmaSqHarmonicMean, SigmaSqHarmonicMeanB = b?.SigmaSqHarmonicMean,
                    NoFace = new[] { a is null ? p.A : null, b is null && p.B != p.A ? p.B : null }.OfType<string>().ToArray(),
                };
            }).ToList();
            int exit = embedded.All(f => f is not null) ? 0 : DetectCommand.NoFaceExitCode;
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                if (parse.GetValue(pairs) is null)
                {
                    var r = results[0];
                    JsonOutput.Write(writer, new { r.Score, r.Threshold, r.Same, r.Quality, r.QualityA, r.QualityB, r.SigmaSqHarmonicMeanA, r.SigmaSqHarmonicMeanB, r.NoFace });
                }
                else JsonOutput.Write(writer, results);
                return exit;
            }
            foreach (var r in results)
            {
                string prefix = parse.GetValue(pairs) is null ? "" : $"{r.A}\t{r.B}\t";
                writer.WriteLine(prefix + (r.Score is null ? $"no score (no face found in {string.Join(" and ", r.NoFace)})"
                    : r.Same is null ? $"score {r.Score:0.0000} (no threshold: pass --threshold, or calibrate the model with eval verify --calibrate)"
                    : $"score {r.Score:0.0000} threshold {r.Threshold:0.0000}: {(r.Same.Value ? "same person" : "different people")}"));
            }
            return exit;
        });
        return command;
    }

    /// <summary>The pairs to score: A and B, or the lines of a pairs file (not both).</summary>
    private static List<(string A, string B)> PairList(string? a, string? b, string? file)
    {
        if (file is null)
        {
            if (a is null || b is null) throw new UserErrorException("Give two images (A B), or --pairs FILE.");
            return [(a, b)];
        }
        if (a is not null) throw new UserErrorException("Give two images (A B) or --pairs FILE, not both.");
        if (!File.Exists(file)) throw new UserErrorException(Directory.Exists(file) ? $"--pairs: '{file}' is a folder; give the file of pairs." : $"--pairs: '{file}' does not exist.");
        var list = new List<(string, string)>();
        int number = 0;
        foreach (string raw in File.ReadLines(file))
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            string[] parts = line.Contains('\t') ? line.Split('\t', StringSplitOptions.TrimEntries) : line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) throw new UserErrorException($"{file}:{number}: expected two image paths, found {parts.Length} fields.");
            // Checked here, where the line is known, not when the image is reached.
            foreach (string image in parts)
                if (!File.Exists(image))
                    throw new UserErrorException($"{file}:{number}: {(Directory.Exists(image) ? $"'{image}' is a folder, not an image" : $"image '{image}' does not exist")}.");
            list.Add((parts[0], parts[1]));
        }
        return list.Count > 0 ? list : throw new UserErrorException($"--pairs: '{file}' holds no pairs.");
    }
}
