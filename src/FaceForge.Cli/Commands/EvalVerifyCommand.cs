using System.CommandLine;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Evaluation;
using FaceForge.Imaging;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval verify`: the LFW protocol (pairs.txt or an InsightFace .bin) with flip test and k folds.</summary>
internal static class EvalVerifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file.", Required = true };
        var images = new Option<string?>("--images") { Description = "Image root the pairs refer to (Name/Name_0001.jpg)." };
        var pairs = new Option<string?>("--pairs") { Description = "LFW-style pairs.txt, or auto: pairs generated from --images as a folder of identity folders (10 identity-disjoint folds of 30 genuine and 30 impostor pairs, fixed seed)." };
        var landmarks = new Option<string?>("--landmarks") { Description = "Landmarks file (path x1 y1 … x5 y5); without it images are taken as aligned." };
        var detector = new Option<string?>("--detector") { Description = "Detect each image's centre face and align by its landmarks (instead of --landmarks): FaceForge detector model or ONNX." };
        var bin = new Option<string?>("--bin") { Description = "InsightFace .bin verification set (instead of --images/--pairs; images already aligned)." };
        var folds = new Option<string?>("--folds") { Description = "Score only these folds, e.g. 6-10 (1-based); thresholds come from the other scored folds." }.FoldList();
        var flip = new Option<FlipMode>("--flip") { Description = "Flip test: Add (default), Concatenate or None.", DefaultValueFactory = _ => FlipMode.Add };
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Inference batch size.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var report = new Option<string?>("--report") { Description = "Write report.html with ROC and histogram PNGs to this folder." }.OutputFolder();
        var json = new Option<bool>("--json") { Description = "Print JSON: accuracy_mean, accuracy_std, threshold, tar_at_far, pairs." };
        var calibrate = new Option<bool>("--calibrate") { Description = "Store the measured threshold and its flip mode in the model (used by faceforge verify): in --out, or else in the --model file itself. Needs at least 50 same-person and 50 different-person pairs." };
        var calibratedOut = new Option<string?>("--out") { Description = "With --calibrate: write the calibrated model here instead of rewriting --model." };
        var score = ModelInputs.ScoreOption();
        var force = new Option<bool>("--force") { Description = "With --calibrate --out: replace an existing file." };
        var noBrighten = ModelInputs.NoBrighten();
        var command = new Command("verify", "Verification accuracy (k-fold, per-fold thresholds), TAR at FAR, ROC.")
        {
            model, images, pairs, landmarks, detector, noBrighten, bin, folds, flip, score, batch, report, json, calibrate, calibratedOut, force,
        };
        var foreign = new ForeignOnnxOptions();
        foreign.AddTo(command);
        command.SetAction(parse =>
        {
            if (parse.GetValue(calibratedOut) is not null && !parse.GetValue(calibrate)) throw new UserErrorException("--out goes with --calibrate (it names the calibrated model to write).");
            // The threshold is written into a FaceForge model file: an ONNX model would fail only after the whole evaluation.
            if (parse.GetValue(calibrate) && ModelInputs.IsOnnx(parse.GetValue(model)!))
                throw new UserErrorException($"--calibrate writes the threshold into a FaceForge model (.ffm); '{parse.GetValue(model)}' is ONNX: calibrate the .ffm, then export it (the export carries the threshold).");
            if (parse.GetValue(calibratedOut) is { } calibratedPath && ModelInputs.IsOnnx(calibratedPath))
                throw new UserErrorException($"--out '{calibratedPath}': --calibrate writes a FaceForge model (.ffm), which every command would then take for ONNX by its name; name it .ffm and export it afterwards.");
            if (parse.GetValue(force) && parse.GetValue(calibratedOut) is null) throw new UserErrorException("--force goes with --calibrate --out (it lets the calibrated model replace an existing file).");
            if (parse.GetValue(calibratedOut) is { } newModel && Path.GetFullPath(newModel) != Path.GetFullPath(parse.GetValue(model)!))
                ReplacedOutput.RequireNewFile(newModel, parse.GetValue(force));
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var embedder = ModelInputs.OpenEmbedder(parse.GetValue(model)!, "--model", foreign.Read(parse));
            var scoring = ModelInputs.Score(parse.GetValue(score)!, embedder);
            if (scoring != ComparisonScore.Cosine && parse.GetValue(calibrate))
                throw new UserErrorException("--calibrate stores a cosine threshold (faceforge verify scores with cosine); calibrate with --score cosine.");
            var options = new VerificationOptions
            {
                Score = scoring, Flip = parse.GetValue(flip), BatchSize = parse.GetValue(batch), Folds = parse.GetValue(folds) is { } f ? LfwPairs.ParseFolds(f) : null,
            };
            var (protocol, load) = parse.GetValue(bin) is { } binPath
                ? parse.GetValue(pairs) is not null || parse.GetValue(images) is not null ? throw new UserErrorException("Give --bin, or --images with --pairs, not both.")
                : VerificationProtocol.ForBin(VerificationBin.Read(Existing(binPath, "--bin")), binPath, embedder.Info.AlignmentTemplate, options)
                : ForPairs(embedder, parse.GetValue(images) ?? throw new UserErrorException("--images is required without --bin."),
                    parse.GetValue(pairs) ?? throw new UserErrorException("--pairs is required without --bin."), parse.GetValue(landmarks), parse.GetValue(detector), parse.GetValue(noBrighten), options, progress);
            if (parse.GetValue(calibrate))
                RequireEnoughToCalibrate(protocol.Pairs.Count(p => p.IsSame), protocol.Pairs.Count(p => !p.IsSame), "in the selected folds");
            // A report folder that cannot be made (read-only) fails now, with the inputs checked, not after the embedding.
            if (parse.GetValue(report) is { } reportDir) Directory.CreateDirectory(reportDir);
            var outcome = progress.Run("embedding", protocol.Images.Count, "img", p => protocol.Run(embedder, load, p));
            var result = outcome.Report;
            string? calibrated = null;
            if (parse.GetValue(calibrate))
            {
                RequireEnoughToCalibrate(result.Pairs - result.ImpostorPairs, result.ImpostorPairs, "scored");
                string source = parse.GetValue(model)!;
                calibrated = parse.GetValue(calibratedOut) ?? source;
                var (info, weights) = FaceForge.Models.ModelFile.Read(source);
                FaceForge.Models.ModelFile.Save(calibrated, info with { Threshold = Math.Clamp(result.Threshold, -1, 1), ThresholdFlip = options.Flip.ToString() }, weights);
            }
            VerificationOutput.Print(parse, result, clock.Elapsed.TotalSeconds, calibrated is null ? null : new { CalibratedModel = Path.GetFullPath(calibrated), Flip = options.Flip.ToString() });
            if (calibrated is not null && !parse.GetValue(json))
                parse.InvocationConfiguration.Output.WriteLine($"calibrated threshold {result.Threshold:0.0000} (flip {options.Flip}) written to {calibrated}{(calibrated == parse.GetValue(model) ? " (rewritten in place)" : "")}");
            // After the figures are printed: a report that cannot be written (a full disk) does not take them with it.
            if (parse.GetValue(report) is { } dir)
                VerificationReportWriter.Write(dir, $"Verification: {Path.GetFileName(parse.GetValue(model))}", result, outcome.Scores, outcome.Same);
            return 0;
        });
        return command;
    }

    /// <summary>Pairs of each kind below which --calibrate refuses: the best threshold on a few dozen pairs moves with every pair.</summary>
    internal const int MinimumCalibrationPairs = 50;

    private static void RequireEnoughToCalibrate(int genuine, int impostor, string where)
    {
        if (genuine < MinimumCalibrationPairs || impostor < MinimumCalibrationPairs)
            throw new UserErrorException($"--calibrate needs at least {MinimumCalibrationPairs} same-person and {MinimumCalibrationPairs} different-person pairs to fit a threshold faceforge verify can trust; {genuine} and {impostor} {where}. Give more pairs (more photos per person for --pairs auto); the model is unchanged.");
    }

    private static string Existing(string path, string option) =>
        File.Exists(path) ? path : throw new UserErrorException($"{option}: '{path}' does not exist.");

    /// <summary>
    /// Pairs generated from a folder of identity folders, LFW-style: 10 identity-disjoint folds (--folds 1-10), each
    /// with 30 genuine and 30 impostor pairs drawn with a fixed seed (no pair twice; a fold with fewer distinct genuine
    /// pairs takes them all and as many impostor pairs), so every run scores the same pairs.
    /// </summary>
    private static IReadOnlyList<VerificationPair> AutoPairs(string images)
    {
        using var set = FaceForge.Data.ImageFolderDataset.Open(images);
        var items = Enumerable.Range(0, set.Count).Select(i => (set.RelativePath(i), set.GetLabel(i))).ToList();
        try
        {
            return PairBuilder.Build(items, folds: 10, pairsPerClassPerFold: 30, seed: 0, distinct: true).ToList();
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"--pairs auto: '{images}': {e.Message}");
        }
    }

    /// <summary>The protocol over an LFW-style pairs file, and the crop loader: aligned by a landmarks file, by a detector's centre face, or taken as aligned.</summary>
    private static (VerificationProtocol, Func<string, RgbImage>) ForPairs(IFaceEmbedder embedder, string images, string pairsPath, string? landmarksPath, string? detectorPath,
        bool noBrighten, VerificationOptions options, ProgressReporter progress)
    {
        if (noBrighten && detectorPath is null) throw new UserErrorException("--no-brighten goes with --detector (it concerns what the detector sees).");
        if (landmarksPath is not null && detectorPath is not null) throw new UserErrorException("Give --landmarks or --detector, not both.");
        if (!Directory.Exists(images)) throw new UserErrorException($"--images: folder '{images}' does not exist.");
        var all = pairsPath == "auto" ? AutoPairs(images) : LfwPairs.Read(Existing(pairsPath, "--pairs"));
        if (pairsPath != "auto" && landmarksPath is null && detectorPath is null) all = LfwPairs.PreferCrops(all, images);
        var protocol = new VerificationProtocol(all, options);
        if (pairsPath != "auto") LfwPairs.CheckImagesExist(protocol.Pairs, images, pairsPath);
        var landmarks = landmarksPath is null ? null : LandmarksFile.Read(Existing(landmarksPath, "--landmarks"));
        if (detectorPath is not null)
        {
            using var faceDetector = ModelInputs.Open(detectorPath, "--detector", noBrighten: noBrighten);
            var found = progress.Run("detecting", protocol.Images.Count, "img", p => CentreFaceSweep.Run(faceDetector, images, protocol.Images, 16, p));
            landmarks = found.Where(kv => kv.Value?.Landmarks is not null).ToDictionary(kv => kv.Key, kv => kv.Value!.Landmarks!.Value);
            var faceless = found.Keys.Where(k => !landmarks.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            if (faceless.Count > 0) progress.Warn($"no face found in {faceless.Count} of {found.Count} images; those are resized whole instead of aligned", faceless);
        }
        if (landmarks is null)
            ImageInputs.NoteIfPhotos(protocol.Images.Select(i => Path.Combine(images, i)), progress.Error, "For photos give --detector DET (or --landmarks F), or align them first with faceforge data align.");
        var source = new AlignedImageSource(images, landmarks, embedder.Info.AlignmentTemplate, ResizeWhenMissing: detectorPath is not null);
        return (protocol, source.Load);
    }
}
