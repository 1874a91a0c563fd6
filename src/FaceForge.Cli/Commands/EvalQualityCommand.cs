using System.CommandLine;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Evaluation;
using FaceForge.Models;
using FaceForge.Training.Detection;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge eval quality`: error-versus-reject curves of face qualities on an LFW-style pairs file. Genuine pairs
/// come from the file; impostors are every cross-identity pair of the images those pairs name.
/// </summary>
internal static class EvalQualityCommand
{
    private static readonly string[] Kinds = ["magnitude", "uncertainty", "inter-ocular", "detector-score", "random"];
    private const int RandomDraws = 10;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Recognition model file.", Required = true };
        var images = new Option<string>("--images") { Description = "Folder the pairs' image paths are relative to (LFW layout: identity/identity_NNNN.jpg).", Required = true };
        var pairs = new Option<string>("--pairs") { Description = "LFW pairs.txt: its matched pairs are the genuine comparisons; the identity is each image's folder.", Required = true };
        var landmarks = ImageInputs.LandmarksOption();
        var detector = new Option<string?>("--detector") { Description = "Detector for landmarks when --landmarks is not given, and for detector-score [default: the built-in RetinaFace mobilenet0.25]." };
        var folds = new Option<string?>("--folds") { Description = "Use only these folds' pairs and images, e.g. 6-10 (1-based)." }.FoldList();
        var quality = new Option<string[]>("--quality")
        {
            Description = "Qualities to compare (repeat the option): magnitude (MagFace models), uncertainty (models with a PFE head), inter-ocular (eye distance in the photo), detector-score, random (the floor: the mean curve of 10 seeded draws).",
            Required = true, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = true,
        };
        quality.AcceptOnlyFromAmong(Kinds);
        var score = ModelInputs.ScoreOption();
        var flip = new Option<FlipMode>("--flip") { Description = "Flip test: None, Add or Concatenate [default: Add].", DefaultValueFactory = _ => FlipMode.Add };
        var seed = new Option<int>("--seed") { Description = "Seed of the random quality.", DefaultValueFactory = _ => 0 };
        var report = new Option<string?>("--report") { Description = "Write erc.png and report.html to this folder." }.OutputFolder();
        var json = new Option<bool>("--json") { Description = "Print JSON: curves (per quality: rejected, fnmr at the headline FMR with the threshold fixed, fnmr_recomputed, and both at every FMR measured), auc, fmr (the headline: 1e-3, or 1e-2 where the impostor pairs are too few to measure 1e-3, with a warning)." };
        var command = new Command("quality", "Error-versus-reject: FNMR at FMR 1e-3 and 1e-2 (each where the impostor pairs can measure it) as the lowest-quality pairs are rejected, for each quality asked for.")
        {
            model, images, pairs, landmarks, detector, folds, quality, score, flip, seed, report, json,
        };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var kinds = parse.GetValue(quality)!.Distinct().ToArray();
            string root = parse.GetValue(images)!, pairsPath = parse.GetValue(pairs)!;
            if (!Directory.Exists(root)) throw new UserErrorException(File.Exists(root) ? $"--images: '{root}' is a file; give the folder of images." : $"--images: folder '{root}' does not exist.");
            if (!File.Exists(pairsPath)) throw new UserErrorException(Directory.Exists(pairsPath) ? $"--pairs: '{pairsPath}' is a folder; give the pairs file." : $"--pairs: '{pairsPath}' does not exist.");
            if (parse.GetValue(landmarks) is not null && parse.GetValue(detector) is not null && !kinds.Contains("detector-score"))
                throw new UserErrorException("Give --landmarks or --detector, not both (with --landmarks, --detector only serves --quality detector-score).");
            using var embedder = ModelInputs.OpenEmbedder(parse.GetValue(model)!, "--model");
            if (kinds.Contains("magnitude")) ModelInputs.RequireQuality(embedder, QualityKind.Magnitude, "--quality magnitude");
            if (kinds.Contains("uncertainty")) ModelInputs.RequireQuality(embedder, QualityKind.Uncertainty, "--quality uncertainty");
            var scoring = ModelInputs.Score(parse.GetValue(score)!, embedder);

            var selected = parse.GetValue(folds) is { } f ? LfwPairs.ParseFolds(f) : null;
            var all = LfwPairs.Read(pairsPath);
            var present = all.Select(p => p.Fold).ToHashSet();
            if (selected?.FirstOrDefault(f => !present.Contains(f), -1) is int absent and >= 0)
                throw new UserErrorException($"--folds: fold {absent + 1} is not among the folds of '{pairsPath}' (1-{present.DefaultIfEmpty(-1).Max() + 1}).");
            var used = all.Where(p => selected is null || selected.Contains(p.Fold)).ToList();
            // Landmarks and a detector take photos; without them the PNG crops `data align` writes stand in for missing photos, as in eval verify.
            if (parse.GetValue(landmarks) is null && parse.GetValue(detector) is null) used = LfwPairs.PreferCrops(used, root).ToList();
            if (used.Count == 0) throw new UserErrorException($"--folds: no pairs of '{pairsPath}' are in folds {parse.GetValue(folds)}.");
            if (!used.Any(p => p.IsSame)) throw new UserErrorException($"--pairs: '{pairsPath}' has no matched pairs{(selected is null ? "" : " in the selected folds")}: error-versus-reject needs genuine pairs.");
            LfwPairs.CheckImagesExist(used, root, pairsPath);
            var keys = used.SelectMany(p => new[] { p.First, p.Second }).Distinct().ToList();
            var index = keys.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
            var identities = keys.Select(k => Path.GetDirectoryName(k) ?? "").ToArray();
            var genuine = used.Where(p => p.IsSame).Select(p => (index[p.First], index[p.Second])).ToList();

            var points = parse.GetValue(landmarks) is { } landmarksPath
                ? LandmarksFile.Read(File.Exists(landmarksPath) ? landmarksPath : throw new UserErrorException($"--landmarks: '{landmarksPath}' does not exist."))
                : null;
            if (points is not null) ImageInputs.RequireLandmarksFor(points, keys, parse.GetValue(landmarks)!);
            Dictionary<string, double>? detectorScores = null;
            // A report folder that cannot be made (read-only) fails now, with the inputs checked, not after the embedding.
            if (parse.GetValue(report) is { } reportDir) Directory.CreateDirectory(reportDir);
            if (points is null || kinds.Contains("detector-score"))
            {
                // Detected down to a low confidence floor, so the score of a poor face is measured rather than cut to
                // "none"; alignment still takes only faces above the usual 0.5.
                const float floor = 0.02f, aligned = 0.5f;
                using IFaceDetector faceDetector = parse.GetValue(detector) is { } detectorPath
                    ? ModelInputs.Open(detectorPath, "--detector", confidence: floor) : TorchFaceDetector.OpenBuiltIn(new DetectorOptions { ConfidenceThreshold = floor });
                var sweep = progress.Run("detecting", keys.Count, "img", p => CentreFaceSweep.RunAll(faceDetector, root, keys, 16, p));
                detectorScores = sweep.ToDictionary(kv => kv.Key, kv => (double?)IFaceDetector.NearestCentre(kv.Value.Faces, kv.Value.Width, kv.Value.Height)?.Score ?? 0.0);
                if (points is null)
                {
                    points = sweep.Select(kv => (kv.Key, Face: IFaceDetector.NearestCentre(kv.Value.Faces.Where(f => f.Score >= aligned).ToList(), kv.Value.Width, kv.Value.Height)))
                        .Where(x => x.Face?.Landmarks is not null).ToDictionary(x => x.Key, x => x.Face!.Landmarks!.Value);
                    var faceless = keys.Where(k => !points.ContainsKey(k)).ToList();
                    if (faceless.Count > 0) progress.Warn($"no face found in {faceless.Count} of {keys.Count} images; those are resized whole instead of aligned", faceless);
                }
            }
            var source = new AlignedImageSource(root, points, embedder.Info.AlignmentTemplate, ResizeWhenMissing: parse.GetValue(landmarks) is null);
            var faces = progress.Run("embedding", keys.Count, "img", p => EmbeddingBatcher.EmbedAllFaces(embedder, keys, source.Load, parse.GetValue(flip), 64, p));
            var qualities = new Dictionary<string, double[]>();
            foreach (string kind in kinds)
            {
                if (kind == "random")
                {
                    // The floor is the mean of several draws: one draw's nested rejections make its curve wander.
                    for (int draw = 0; draw < RandomDraws; draw++)
                    {
                        var random = new Random(parse.GetValue(seed) + draw);
                        qualities[$"random#{draw}"] = keys.Select(_ => random.NextDouble()).ToArray();
                    }
                    continue;
                }
                qualities[kind] = kind switch
                {
                    "magnitude" or "uncertainty" => faces.Select(x => x.Quality!.Value).ToArray(),
                    "inter-ocular" => keys.Select(k => points!.TryGetValue(k.Replace('\\', '/'), out var m) ? (double)System.Numerics.Vector2.Distance(m.LeftEye, m.RightEye) : 0).ToArray(),
                    _ => keys.Select(k => detectorScores![k.Replace('\\', '/')]).ToArray(),
                };
            }
            var result = progress.Run("scoring impostors", 1, "step", p =>
            {
                var r = ErrorVersusReject.Run(faces, identities, genuine, qualities, new ErrorVersusRejectOptions { Score = scoring });
                p.Report(1);
                return r;
            });
            foreach (double fmr in new ErrorVersusRejectOptions().Fmrs.Where(f => !result.Thresholds.ContainsKey(f.ToString(System.Globalization.CultureInfo.InvariantCulture))))
                progress.Warn($"FMR {fmr.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not measurable with {result.ImpostorPairs:N0} impostor pairs (it needs {Math.Ceiling(1 / fmr - 1e-9):N0}): FNMR is reported at FMR {result.Thresholds.Keys.First()} only");
            if (kinds.Contains("random"))
            {
                var curves = kinds.ToDictionary(k => k, k => k == "random"
                    ? ErrorVersusReject.Mean(Enumerable.Range(0, RandomDraws).Select(d => result.Curves[$"random#{d}"]).ToList())
                    : result.Curves[k]);
                result = result with { Curves = curves };
            }
            Print(parse, result, json);
            // After the figures are printed: a report that cannot be written (a full disk) does not take them with it.
            if (parse.GetValue(report) is { } dir)
                ErrorVersusRejectReportWriter.Write(dir, $"Error versus reject: {Path.GetFileName(parse.GetValue(model))}", result,
                    new Dictionary<string, string> { ["pairs"] = $"{pairsPath}{(selected is null ? "" : $", folds {parse.GetValue(folds)}")}", ["score"] = parse.GetValue(score)! });
            return 0;
        });
        return command;
    }

    private static void Print(ParseResult parse, ErrorVersusRejectReport result, Option<bool> json)
    {
        var writer = parse.InvocationConfiguration.Output;
        string headline = result.Thresholds.Keys.First();
        if (parse.GetValue(json))
        {
            JsonOutput.Write(writer, new
            {
                Curves = result.Curves.ToDictionary(c => c.Key, c => new
                {
                    c.Value.Rejected, c.Value.RejectedActual, Fnmr = c.Value.Fixed[headline], FnmrRecomputed = c.Value.Recomputed[headline],
                    ByFmr = c.Value.Fixed.Keys.ToDictionary(k => k, k => new { Fixed = c.Value.Fixed[k], Recomputed = c.Value.Recomputed[k] }),
                }),
                Auc = result.Curves.ToDictionary(c => c.Key, c => c.Value.AucFixed[headline]),
                AucRecomputed = result.Curves.ToDictionary(c => c.Key, c => c.Value.AucRecomputed[headline]),
                AucByFmr = result.Curves.ToDictionary(c => c.Key, c => c.Value.AucFixed.Keys.ToDictionary(k => k, k => new { Fixed = c.Value.AucFixed[k], Recomputed = c.Value.AucRecomputed[k] })),
                Fmr = double.Parse(headline, System.Globalization.CultureInfo.InvariantCulture), result.GenuinePairs, result.ImpostorPairs, result.Thresholds,
            });
            return;
        }
        writer.WriteLine($"{result.GenuinePairs} genuine pairs, {result.ImpostorPairs:N0} impostor pairs; FNMR at FMR {headline} (threshold fixed / recomputed):");
        foreach (var (name, curve) in result.Curves)
        {
            int tenth = curve.Rejected.ToList().FindIndex(r => Math.Abs(r - 0.1) < 1e-9);
            writer.WriteLine($"  {name,-15} {100 * curve.Fixed[headline][0]:0.00} % -> {100 * curve.Fixed[headline][tenth]:0.00} % / {100 * curve.Recomputed[headline][tenth]:0.00} % at 10 % rejected; AUC {curve.AucFixed[headline]:0.0000} / {curve.AucRecomputed[headline]:0.0000}");
        }
    }
}
