using System.CommandLine;
using FaceForge.Data;
using FaceForge.Evaluation;
using FaceForge.Occlusion;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge data occlude`: a detection set of real faces with occluders painted by their landmarks, labelled by a
/// detector on the clean images (pseudo-labels), for training and scoring occlusion-aware detection.
/// </summary>
internal static class DataOccludeCommand
{
    public static Command Create()
    {
        var images = new Option<string>("--images") { Description = "Image root (LFW: Name/Name_0001.jpg).", Required = true };
        var detector = new Option<string>("--detector") { Description = "Detector with landmarks that labels the clean images (e.g. the imported RetinaFace).", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: images, label.txt, masks/, pseudo-labels.txt, skipped.txt, dataset.json.", Required = true };
        var pairs = new Option<string?>("--pairs") { Description = "LFW pairs.txt: with --split, take only one side of the LFW protocol." };
        var split = new Option<string?>("--split") { Description = "With --pairs: train (people in no pair of the test folds) or test (the images the test folds' pairs name)." };
        var testFolds = new Option<string>("--test-folds") { Description = "Held-out folds, e.g. 6-10 (1-based).", DefaultValueFactory = _ => "6-10" }.FoldList();
        var occluders = new Option<string>("--occluders") { Description = $"Occluders drawn from: all, none, or some of {string.Join(", ", OcclusionKinds.All.Select(OcclusionKinds.Name))}.", DefaultValueFactory = _ => "all" };
        var overlays = new Option<string[]>("--overlays") { Description = "Mask overlays with transparency (PNG files, or folders of them) for the mask occluder.", AllowMultipleArgumentsPerToken = true };
        var holdOut = new Option<string?>("--hold-out") { Description = "Overlay names (file names without extension, comma-separated) left out, e.g. for a test set: black-mask,red-mask." };
        var rate = new Option<double>("--occlusion-rate") { Description = "Share of faces given an occluder.", DefaultValueFactory = _ => 0.5 };
        var composites = new Option<int>("--composites") { Description = "Write N composite images (grids of 1-9 random crops at random scale and light); 0: each source image as it is.", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var size = new Option<string>("--size") { Description = "Composite size WIDTHxHEIGHT.", DefaultValueFactory = _ => "320x240" };
        var landmarks = new Option<string?>("--landmarks") { Description = "Reference landmarks (path x1 y1 … x5 y5, e.g. LFW's): copied to OUT/landmarks.txt for the images written, to score NME." };
        var confidence = new Option<float>("--confidence") { Description = "Score from which a detection becomes a pseudo-label.", DefaultValueFactory = _ => 0.5f };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N source images." };
        var seed = new Option<int>("--seed") { Description = "Seed of occluders, crops and lighting.", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print JSON: images, faces, occluded_faces, occluders, source_images, skipped_no_face, out." };
        var force = new Option<bool>("--force") { Description = "Replace an --out folder that already holds files (the new set is written aside and takes its place once complete)." };
        var command = new Command("occlude", "Build a detection set from real faces: pseudo-labels from a detector on the clean images, occluders (masks, sunglasses, hands, scarves, half covers) painted by the landmarks, occlusion masks.")
        {
            images, detector, output, pairs, split, testFolds, occluders, overlays, holdOut, rate, composites, size, landmarks, confidence, limit, seed, json, force,
        };
        command.SetAction(parse =>
        {
            string root = parse.GetValue(images)!;
            if (File.Exists(root)) throw new UserErrorException($"--images: '{root}' is a file; give the folder of images.");
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            var kinds = parse.GetValue(occluders)!.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) ? [] : Parse(() => OcclusionKinds.Parse(parse.GetValue(occluders)!), "--occluders");
            var masks = LoadOverlays(parse.GetValue(overlays) ?? [], parse.GetValue(holdOut));
            if (kinds.Contains(OcclusionKind.Mask) && masks.Count == 0 && parse.GetValue(rate) > 0)
                throw new UserErrorException("--occluders includes mask, so --overlays must give at least one mask overlay (or leave mask out of --occluders).");
            var (width, height) = ParseSize(parse.GetValue(size)!);
            var options = new OccludedSetOptions
            {
                Kinds = kinds,
                Overlays = masks,
                OcclusionRate = parse.GetValue(rate),
                Composites = parse.GetValue(composites),
                Width = width,
                Height = height,
                Seed = parse.GetValue(seed),
            };
            if (options.OcclusionRate is < 0 or > 1 || double.IsNaN(options.OcclusionRate)) throw new UserErrorException($"--occlusion-rate: {options.OcclusionRate} is not in [0, 1].");
            if (parse.GetValue(confidence) is var c && !(c is >= 0 and <= 1)) throw new UserErrorException($"--confidence: {c} is not in [0, 1].");
            Parse(() => { options.Validate(); return 0; }, "options");
            if (parse.GetValue(landmarks) is not null && options.Composites > 0)
                throw new UserErrorException("--landmarks names source images; --composites writes new images that cannot carry them. Use one or the other.");
            var sources = Sources(root, parse.GetValue(pairs), parse.GetValue(split), parse.GetValue(testFolds)!);
            if (parse.GetValue(limit) is int n)
            {
                if (n < 1) throw new UserErrorException($"--limit: {n} would use no image (at least 1).");
                sources = sources.Take(n).ToList();
            }
            if (sources.Count == 0) throw new UserErrorException($"--images: no image under '{root}'.");
            var reference = ImageInputs.Landmarks(parse.GetValue(landmarks));
            string target = parse.GetValue(output)!;
            if (File.Exists(target)) throw new UserErrorException($"--out: '{target}' is a file; give a folder.");
            // Sources apart from --out, and no input inside it: --force replaces it.
            ReplacedOutput.RequireApart(target, root, new[] { ("--detector", parse.GetValue(detector)), ("--landmarks", parse.GetValue(landmarks)), ("--pairs", parse.GetValue(pairs)) }
                .Concat((parse.GetValue(overlays) ?? []).SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(o => ("--overlays", (string?)o))));
            if (options.Composites == 0 && sources.GroupBy(Path.GetFileNameWithoutExtension, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twin)
                throw new UserErrorException($"--images: '{string.Join("', '", twin)}' share a file name, so their occlusion masks would collide in masks/; rename one, or use --composites.");
            ReplacedOutput.RequireEmptyFolder(target, parse.GetValue(force), "set");
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            PseudoLabels labels;
            using (var labeller = ModelInputs.Open(parse.GetValue(detector)!, "--detector", parse.GetValue(confidence)))
            {
                if (!labeller.HasLandmarks) throw new UserErrorException($"--detector: '{labeller.Name}' gives no landmarks; occluders are placed by them.");
                labels = progress.Run("pseudo-labelling", sources.Count, "img", p => PseudoLabels.Detect(labeller, root, sources, p));
            }
            if (labels.Images.Count == 0)
                throw new UserErrorException($"--images: '{parse.GetValue(detector)}' found no face at --confidence {parse.GetValue(confidence)} in any of the {sources.Count} images of '{root}'; nothing written.");
            int total = options.Composites > 0 ? options.Composites : labels.Images.Count;
            // Written aside and put in --out's place once complete: a failure leaves the old set as it was.
            var report = AtomicFolder.Write(target, staged => progress.Run("writing", total, "img", p => OccludedSetWriter.Write(labels, root, staged, options, reference, p))) with { Out = target };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, report with { Out = Path.GetFullPath(report.Out) });
            else writer.WriteLine($"wrote {report.Images} images with {report.Faces} faces ({report.OccludedFaces} occluded) to {Path.GetFullPath(report.Out)}; "
                + $"{report.SkippedNoFace} of {sources.Count} source images had no face and were skipped (skipped.txt)");
            return 0;
        });
        return command;
    }

    private static T Parse<T>(Func<T> parse, string option)
    {
        try { return parse(); }
        catch (ArgumentException e) { throw new UserErrorException($"{option}: {(e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message)}"); }
    }

    private static (int Width, int Height) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w >= 32 && h >= 32 && w <= 4096 && h <= 4096) return (w, h);
        throw new UserErrorException($"--size: '{text}' is not WIDTHxHEIGHT with sides in 32-4096 (e.g. 320x240).");
    }

    private static List<MaskOverlay> LoadOverlays(string[] paths, string? holdOut)
    {
        var files = new List<string>();
        foreach (string path in paths.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (Directory.Exists(path)) files.AddRange(Directory.GetFiles(path, "*.png").Order(StringComparer.Ordinal));
            else if (File.Exists(path)) files.Add(path);
            else throw new UserErrorException($"--overlays: '{path}' does not exist.");
        }
        var held = (holdOut ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = held.Where(h => !files.Any(f => Path.GetFileNameWithoutExtension(f).Equals(h, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0) throw new UserErrorException($"--hold-out: no overlay named '{string.Join("', '", unknown)}' among --overlays ({string.Join(", ", files.Select(Path.GetFileNameWithoutExtension))}).");
        return files.Where(f => !held.Contains(Path.GetFileNameWithoutExtension(f))).Select(MaskOverlay.Load).ToList();
    }

    private static List<string> Sources(string root, string? pairsPath, string? split, string testFolds)
    {
        if (pairsPath is null != split is null) throw new UserErrorException("--pairs and --split go together: --split train|test chooses a side of the LFW protocol in --pairs.");
        if (pairsPath is null)
            return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Where(f => ImageFolderDataset.ImageExtensions.Contains(Path.GetExtension(f)))
                .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        if (!File.Exists(pairsPath)) throw new UserErrorException($"--pairs: '{pairsPath}' does not exist.");
        var all = LfwPairs.Read(pairsPath);
        var folds = Parse(() => LfwPairs.ParseFolds(testFolds), "--test-folds");
        int foldCount = all.Max(p => p.Fold) + 1;
        if (folds.FirstOrDefault(f => f >= foldCount, -1) is int absent and >= 0)
            throw new UserErrorException($"--test-folds: fold {absent + 1} does not exist ('{pairsPath}' has folds 1-{foldCount}).");
        switch (split!.ToLowerInvariant())
        {
            case "train":
                return LfwSplit.TrainingIdentities(root, all, folds).SelectMany(person => Directory.GetFiles(Path.Combine(root, person)).Order(StringComparer.Ordinal)
                    .Select(f => $"{person}/{Path.GetFileName(f)}")).ToList();
            case "test":
                var named = all.Where(p => folds.Contains(p.Fold)).SelectMany(p => new[] { p.First, p.Second }).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                LfwPairs.CheckImagesExist(all.Where(p => folds.Contains(p.Fold)).ToList(), root, pairsPath);
                return named;
            default:
                throw new UserErrorException($"--split: '{split}' is not train or test.");
        }
    }
}
