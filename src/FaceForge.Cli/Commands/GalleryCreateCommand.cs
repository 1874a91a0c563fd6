using System.CommandLine;
using FaceForge.Gallery;
using FaceForge.Models;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery create`: a new, empty gallery file bound to one recognition model (and detector).</summary>
internal static class GalleryCreateCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var model = new Option<string>("--model") { Description = "Recognition model file: its weights fingerprint, architecture and embedding size are recorded; enrol and identify reopen it.", Required = true };
        var detector = new Option<string?>("--detector") { Description = "Face detector (with landmarks) for photos; without one, gallery images are aligned crops at the model's input size." };
        var store = new Option<string?>("--store") { Description = "Where the gallery lives: sqlite (the default: the GALLERY file itself)." };
        var precision = new Option<string>("--precision") { Description = "Stored vector precision: float32, or float16 (half the memory; cosines within about 1e-3).", DefaultValueFactory = _ => "float32" };
        precision.AcceptOnlyFromAmong("float32", "float16");
        var hnswAbove = new Option<int>("--hnsw-above") { Description = "Use an HNSW index (candidates re-ranked exactly) from this many faces on; below, every face is scored exactly.", DefaultValueFactory = _ => 50_000 }.AtLeast(1);
        var threshold = new Option<double?>("--threshold") { Description = "Open-set threshold (cosine): a probe is a known subject only when its best score is above it. Or calibrate one with 'gallery calibrate'." };
        var force = new Option<bool>("--force") { Description = "Replace an existing gallery file (the new one is written aside and renamed over it once complete)." };
        var json = new Option<bool>("--json") { Description = "Print the gallery's stats as JSON." };
        var command = new Command("create", "Create an empty gallery file bound to a recognition model (and detector).") { gallery, model, detector, store, precision, hnswAbove, threshold, force, json };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(gallery)!;
            if (parse.GetValue(store) is { } uri && !uri.Equals("sqlite", StringComparison.OrdinalIgnoreCase) && !uri.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
                throw new UserErrorException($"--store: '{uri}' is not a store this FaceForge has: only sqlite (the GALLERY file) is available; a PostgreSQL store is not built yet.");
            if (Directory.Exists(path)) throw new UserErrorException($"GALLERY: '{path}' is a folder; give a file name such as faces.gallery.");
            if (File.Exists(path) && !parse.GetValue(force))
                throw new UserErrorException($"'{path}' already exists; pass --force to replace it, or enrol into it with 'faceforge gallery enroll'.");
            if (parse.GetValue(threshold) is double t && !(t >= -1 && t <= 1)) throw new UserErrorException($"--threshold: {t} is not a cosine in [-1, 1].");
            string modelPath = Path.GetFullPath(parse.GetValue(model)!);
            string fingerprint = ModelFingerprint.Of(File.Exists(modelPath) ? modelPath : throw new UserErrorException($"--model: '{modelPath}' does not exist."));
            string? detectorPath = parse.GetValue(detector) is { } d ? Path.GetFullPath(d) : null;
            ModelInfo info;
            using (var embedder = ModelInputs.OpenEmbedder(modelPath, "--model")) info = embedder.Info;
            if (detectorPath is not null)
            {
                using var opened = ModelInputs.Open(detectorPath, "--detector");
                if (!opened.HasLandmarks) throw new UserErrorException($"--detector: '{opened.Name}' gives no landmarks, so it cannot align faces (use RetinaFace or YuNet).");
            }
            var options = new GalleryOptions
            {
                Precision = parse.GetValue(precision) == "float16" ? GalleryPrecision.Float16 : GalleryPrecision.Float32,
                HnswAbove = parse.GetValue(hnswAbove),
            };
            var recorded = new GalleryModel(fingerprint, info.Architecture, info.EmbeddingSize, info.Template, modelPath, detectorPath);
            using var created = FaceGallery.Create(path, recorded, options, overwrite: parse.GetValue(force));
            if (parse.GetValue(threshold) is double value) created.SetThreshold(value);
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, GalleryStatsCommand.Describe(created.Stats()));
            else writer.WriteLine($"created {path}: {info.Architecture} ({info.EmbeddingSize}-d, fingerprint {fingerprint[..12]}), {(detectorPath is null ? "aligned crops" : "photos via " + Path.GetFileName(detectorPath))}, {parse.GetValue(precision)}");
            return 0;
        });
        return command;
    }
}
