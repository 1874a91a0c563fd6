using System.CommandLine;
using FaceForge.Occlusion;
using FaceForge.Alignment;
using FaceForge.Evaluation;
using FaceForge.Imaging;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval degradation`: how quality and verification respond to blur, low resolution, JPEG, darkness and masks.</summary>
internal static class EvalDegradationCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Recognition model file.", Required = true };
        var images = new Option<string>("--images") { Description = "Folder the pairs' image paths are relative to.", Required = true };
        var pairs = new Option<string>("--pairs") { Description = "LFW pairs.txt.", Required = true };
        var landmarks = new Option<string>("--landmarks") { Description = "Landmarks file: degradations are placed and faces aligned by it.", Required = true };
        var folds = new Option<string?>("--folds") { Description = "Use only these folds, e.g. 6-10 (1-based)." }.FoldList();
        var masks = new Option<string?>("--masks") { Description = "Folder of face-mask PNGs with transparency (e.g. ../shared/data/mask-overlays); without it the mask degradation is left out." };
        var kinds = new Option<string[]>("--degradation")
        {
            Description = "Study only these kinds (repeat the option): blur, downscale, jpeg, darken, mask [default: all; mask needs --masks].",
            Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = true,
        };
        kinds.AcceptOnlyFromAmong("blur", "downscale", "jpeg", "darken", "mask");
        var report = new Option<string?>("--report") { Description = "Write quality.png, accuracy.png and report.html to this folder." }.OutputFolder();
        var json = new Option<bool>("--json") { Description = "Print JSON: results (degradation, level, severity, mean_quality, accuracy_cosine, accuracy_mls), spearman, identification, mixed (accuracy_cosine, accuracy_mls with the degradations shared out over the pairs)." };
        var command = new Command("degradation", "Degradation study: mean quality per severity, verification with one image of each pair degraded (cosine and MLS), identification with mixed clean/degraded templates (mean and fused). No flip test.")
        {
            model, images, pairs, landmarks, folds, masks, kinds, report, json,
        };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string root = parse.GetValue(images)!, pairsPath = parse.GetValue(pairs)!, landmarksPath = parse.GetValue(landmarks)!;
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            if (!File.Exists(pairsPath)) throw new UserErrorException($"--pairs: '{pairsPath}' does not exist.");
            if (!File.Exists(landmarksPath)) throw new UserErrorException($"--landmarks: '{landmarksPath}' does not exist.");
            IReadOnlyList<MaskOverlay>? overlays = null;
            if (parse.GetValue(masks) is { } maskDir)
            {
                try
                {
                    overlays = MaskOverlay.LoadFolder(maskDir);
                }
                catch (Exception e) when (e is DirectoryNotFoundException or InvalidDataException)
                {
                    throw new UserErrorException($"--masks: {e.Message}");
                }
            }
            var asked = parse.GetValue(kinds) is { Length: > 0 } k ? k.ToHashSet() : null;
            if (asked?.Contains("mask") == true && overlays is null) throw new UserErrorException("--degradation mask needs --masks DIR (the mask overlays to paint).");
            var degradations = Degradation.Study.Where(d => (overlays is not null || d.Kind != DegradationKind.Mask)
                && (asked is null || asked.Contains(d.Kind.ToString().ToLowerInvariant()))).ToList();
            using var embedder = ModelInputs.OpenEmbedder(parse.GetValue(model)!, "--model");
            var protocol = new VerificationProtocol(LfwPairs.Read(pairsPath), new VerificationOptions { Folds = parse.GetValue(folds) is { } f ? LfwPairs.ParseFolds(f) : null });
            LfwPairs.CheckImagesExist(protocol.Pairs, root, pairsPath);
            var points = LandmarksFile.Read(landmarksPath);
            ImageInputs.RequireLandmarksFor(points, protocol.Images, landmarksPath);
            (RgbImage, FaceLandmarks) Load(string key) => (ImageDecoder.Decode(Path.Combine(root, key)), points[key.Replace('\\', '/')]);
            var study = new DegradationStudy(protocol, Load, overlays);
            var result = progress.Run("embedding", protocol.Images.Count * (degradations.Count + 1), "img", p => study.Run(embedder, degradations, p));
            if (parse.GetValue(report) is { } dir) DegradationReportWriter.Write(dir, $"Degradation study: {Path.GetFileName(parse.GetValue(model))}", result);
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                JsonOutput.Write(writer, new
                {
                    QualityKind = embedder.Info.Quality, Flip = "None",
                    Results = result.Results.Select(r => new
                    {
                        Degradation = r.Degradation?.Kind.ToString().ToLowerInvariant() ?? "clean", r.Degradation?.Level, Severity = r.Degradation?.Severity ?? 0,
                        r.MeanQuality, r.AccuracyCosine, r.AccuracyMls,
                    }),
                    result.Spearman,
                    Identification = result.Identification.Select(i => new { Degradation = i.Degradation.Name, i.Rank1Mean, i.Rank1Fused, i.Rank1MeanMls, i.Rank1FusedMls, i.Identities, i.Probes }),
                    result.Mixed,
                });
                return 0;
            }
            foreach (var r in result.Results)
                writer.WriteLine($"{r.Degradation?.Name ?? "clean",-14} quality {r.MeanQuality?.ToString("0.000") ?? "n/a",8}  {DegradationReportWriter.Accuracies(r.AccuracyCosine, r.AccuracyMls)}");
            if (result.Mixed is { } mixed)
                writer.WriteLine($"{"mixed",-14} {mixed.Degradations} degradations shared out over the pairs: {DegradationReportWriter.Accuracies(mixed.AccuracyCosine, mixed.AccuracyMls)}");
            foreach (var (kind, rho) in result.Spearman) writer.WriteLine($"Spearman(severity, quality) {kind}: {rho?.ToString("0.000") ?? "n/a"}");
            foreach (var i in result.Identification)
                writer.WriteLine($"rank-1 with templates clean + {i.Degradation.Name}: {DegradationReportWriter.Rank1(i.Rank1Mean, i.Rank1Fused)}{DegradationReportWriter.Rank1Mls(i.Rank1MeanMls, i.Rank1FusedMls)}");
            if (result.Mixed is { Rank1Mean: double mixedMean } m)
                writer.WriteLine($"rank-1 with templates clean + mixed ({m.Degradations} degradations shared out over the identities): {DegradationReportWriter.Rank1(mixedMean, m.Rank1Fused)}{DegradationReportWriter.Rank1Mls(m.Rank1MeanMls, m.Rank1FusedMls)}");
            return 0;
        });
        return command;
    }
}
