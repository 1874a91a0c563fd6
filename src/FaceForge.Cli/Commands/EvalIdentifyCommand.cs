using System.CommandLine;
using FaceForge.Data;
using FaceForge.Embedding;
using FaceForge.Evaluation;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval identify`: 1:N identification, closed-set rank-1 and rank-5, and open-set DIR at FPIR.</summary>
internal static class EvalIdentifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Recognition model: FaceForge .ffm or its ONNX export.", Required = true };
        var gallery = new Option<string?>("--gallery") { Description = "Folder of identity folders: the enrolled faces (aligned)." };
        var probes = new Option<string?>("--probes") { Description = "Folder of identity folders: the faces to identify (aligned). Folders named as a gallery identity are mated probes; the others are unknown (open-set) probes." };
        var protocolName = new Option<string?>("--protocol")
        {
            Description = "lfw-open-set: through a FaceGallery, everyone in --images with two or more images enrolled with the first, their other images as probes, the one-image people as unknown probes.",
        };
        protocolName.AcceptOnlyFromAmong("lfw-open-set");
        var images = new Option<string?>("--images") { Description = "With --protocol: the image root (LFW's images folder: Person/Person_NNNN.jpg)." };
        var landmarks = new Option<string?>("--landmarks") { Description = "With --protocol: landmarks file (path x1 y1 … x5 y5) aligning every image it lists (else the images must be aligned crops)." };
        var index = new Option<string>("--index") { Description = "With --protocol: the gallery's search, exact or hnsw (re-ranked exactly).", DefaultValueFactory = _ => "exact" };
        index.AcceptOnlyFromAmong("exact", "hnsw");
        var efSearch = new Option<int>("--ef-search")
        {
            Description = "With --index hnsw: the search beam, also the number of candidates re-ranked exactly.",
            DefaultValueFactory = _ => new Gallery.GalleryOpenOptions().HnswExpansionSearch,
        }.Between(1, 100_000);
        var flip = new Option<FlipMode>("--flip") { Description = "With --protocol: flip test.", DefaultValueFactory = _ => FlipMode.Add };
        var json = new Option<bool>("--json") { Description = "Print JSON: rank1, rank5, probes, unknown_probes, identities, dir_at_fpir (0.01, 0.1); with --protocol also enrolled, threshold_at_fpir, index." };
        var templates = new Option<string>("--templates")
        {
            Description = "How an identity's gallery images become one template: mean (normalised sum), or fused (PFE: each dimension weighted by 1/sigma^2; the template's variance is 1 / sum 1/sigma^2; needs an uncertainty head).",
            DefaultValueFactory = _ => "mean",
        };
        templates.AcceptOnlyFromAmong("mean", "fused");
        var score = ModelInputs.ScoreOption();
        var command = new Command("identify", "1:N identification against a gallery (one template per identity): rank-1, rank-5 and open-set DIR at FPIR 1 % and 10 %.")
        {
            model, gallery, probes, protocolName, images, landmarks, index, efSearch, flip, templates, score, json,
        };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string modelPath = parse.GetValue(model)!;
            if (!File.Exists(modelPath)) throw new UserErrorException($"--model: '{modelPath}' does not exist.");
            bool beamGiven = parse.GetResult(efSearch) is { Implicit: false };
            if (parse.GetValue(protocolName) is not null)
            {
                if (parse.GetValue(gallery) is not null || parse.GetValue(probes) is not null) throw new UserErrorException("--protocol builds its own gallery and probes from --images: drop --gallery and --probes.");
                if (beamGiven && parse.GetValue(index) != "hnsw") throw new UserErrorException("--ef-search sets the HNSW search: give it with --index hnsw.");
                return OpenSet(parse, modelPath, parse.GetValue(images), parse.GetValue(landmarks), parse.GetValue(index)!, parse.GetValue(efSearch), parse.GetValue(flip), parse.GetValue(json), progress);
            }
            if (parse.GetValue(index) != "exact" || beamGiven) throw new UserErrorException("--index and --ef-search go with --protocol: --gallery and --probes compare templates exactly.");
            if (parse.GetValue(gallery) is null || parse.GetValue(probes) is null) throw new UserErrorException("Give --gallery and --probes (folders of identity folders), or --protocol lfw-open-set with --images.");
            using var embedder = ModelInputs.OpenEmbedder(modelPath, "--model");
            var mode = parse.GetValue(templates) == "fused" ? TemplateMode.Fused : TemplateMode.Mean;
            if (mode == TemplateMode.Fused) ModelInputs.RequireQuality(embedder, Models.QualityKind.Uncertainty, "--templates fused");
            var options = new IdentificationOptions { Templates = mode, Score = ModelInputs.Score(parse.GetValue(score)!, embedder) };
            var protocol = new IdentificationProtocol(Items(parse.GetValue(gallery)!, "--gallery"), Items(parse.GetValue(probes)!, "--probes"), options);
            var source = new AlignedImageSource("", null, embedder.Info.AlignmentTemplate);
            ImageInputs.NoteIfPhotos(protocol.Gallery.Concat(protocol.Probes).Select(g => g.Image), progress.Error, "Align photos first with faceforge data align.");
            IdentificationReport result;
            try
            {
                result = progress.Run("embedding", protocol.Gallery.Count + protocol.Probes.Count, "img", p => protocol.Run(embedder, source.Load, p));
            }
            catch (ArgumentException e) when (e.Message.StartsWith("No probe", StringComparison.Ordinal))
            {
                throw new UserErrorException("No probe identity folder matches a gallery identity folder by name.");
            }
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, new { result.Rank1, result.Rank5, result.Probes, result.UnknownProbes, result.Identities, result.DirAtFpir, result.OpenSetNote, Templates = parse.GetValue(templates), Score = parse.GetValue(score) });
            else
            {
                writer.WriteLine($"rank-1 {100 * result.Rank1:0.00} %, rank-5 {100 * result.Rank5:0.00} % over {result.Probes} probes and {result.Identities} identities");
                foreach (var (fpir, dir) in result.DirAtFpir)
                    writer.WriteLine(dir is double d ? $"DIR at FPIR {fpir}: {100 * d:0.00} % ({result.UnknownProbes} unknown probes)" : $"DIR at FPIR {fpir}: not measurable ({result.OpenSetNote})");
            }
            return 0;
        });
        return command;
    }

    private static int OpenSet(ParseResult parse, string modelPath, string? root, string? landmarksPath, string index, int efSearch, FlipMode flip, bool json, ProgressReporter progress)
    {
        if (root is null) throw new UserErrorException("--protocol lfw-open-set needs --images (LFW's images folder).");
        if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
        if (landmarksPath is not null && !File.Exists(landmarksPath)) throw new UserErrorException($"--landmarks: '{landmarksPath}' does not exist.");
        using var embedder = ModelInputs.OpenEmbedder(modelPath, "--model");
        var points = landmarksPath is null ? null : Alignment.LandmarksFile.Read(landmarksPath);
        IEnumerable<string> names;
        if (points is not null) names = points.Keys;
        else
        {
            using var set = ImageFolderDataset.Open(root);
            names = Enumerable.Range(0, set.Count).Select(set.RelativePath).ToArray();
        }
        LfwOpenSetProtocol.Split split;
        try
        {
            split = LfwOpenSetProtocol.SplitImages(names);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"--images: {e.Message}");
        }
        if (points is null) ImageInputs.NoteIfPhotos(names.Select(n => Path.Combine(root, n)), progress.Error, "For photos give --landmarks F, or align them first with faceforge data align.");
        var source = new AlignedImageSource(root, points, embedder.Info.AlignmentTemplate);
        // An in-memory gallery of this run alone never checks the model: no fingerprint (hashing iresnet100 takes ~1 s).
        var galleryModel = new Gallery.GalleryModel("in-memory", embedder.Info.Architecture, embedder.Info.EmbeddingSize * (flip == FlipMode.Concatenate ? 2 : 1),
            embedder.Info.Template, Path.GetFullPath(modelPath), null);
        var open = new Gallery.GalleryOpenOptions { ForceHnsw = index == "hnsw", HnswExpansionSearch = efSearch, HnswCandidates = efSearch };
        using var faces = Gallery.FaceGallery.Open(new Gallery.MemoryGalleryStore(new Gallery.GalleryHeader(galleryModel, new Gallery.GalleryOptions(), null, null)), open);
        int total = split.Enrolled.Count + split.Mated.Count + split.Unknown.Count;
        var report = progress.Run("embedding", total, "img", p => LfwOpenSetProtocol.Run(split, embedder, source.Load, faces, flip, progress: p));
        var writer = parse.InvocationConfiguration.Output;
        if (json)
            JsonOutput.Write(writer, new
            {
                Protocol = "lfw-open-set", report.Rank1, report.Rank5, Probes = report.MatedProbes, report.UnknownProbes, Identities = report.Enrolled, report.Enrolled,
                report.DirAtFpir, report.ThresholdAtFpir, report.Index, EfSearch = index == "hnsw" ? efSearch : (int?)null, Flip = flip.ToString(), Model = modelPath,
            });
        else
        {
            writer.WriteLine($"lfw-open-set ({report.Index} search): {report.Enrolled} people enrolled, {report.MatedProbes} mated and {report.UnknownProbes} unknown probes");
            writer.WriteLine($"rank-1 {100 * report.Rank1:0.00} %, rank-5 {100 * report.Rank5:0.00} %");
            foreach (var (fpir, dir) in report.DirAtFpir)
                writer.WriteLine(dir is double d ? $"DIR at FPIR {fpir}: {100 * d:0.00} % (threshold {report.ThresholdAtFpir[fpir]:0.0000})" : $"DIR at FPIR {fpir}: too few unknown probes to measure");
        }
        return 0;
    }

    /// <summary>Every image of a folder of identity folders, as (absolute path, identity folder name).</summary>
    private static List<(string Image, string Identity)> Items(string root, string option)
    {
        if (!Directory.Exists(root)) throw new UserErrorException($"{option}: folder '{root}' does not exist.");
        using var set = ImageFolderDataset.Open(root);
        if (set.Count == 0) throw new UserErrorException($"{option}: '{root}' holds no images in identity folders.");
        return Enumerable.Range(0, set.Count).Select(i => (Path.Combine(set.Root, set.RelativePath(i)), set.IdentityNames[set.GetLabel(i)])).ToList();
    }
}
