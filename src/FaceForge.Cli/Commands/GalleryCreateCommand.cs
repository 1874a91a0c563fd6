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
        var store = new Option<string?>("--store")
        {
            Description = "Where the gallery lives: sqlite (the default: the GALLERY file), or a PostgreSQL server (postgres://user@host:port/db or Host=…;Database=…), "
                + "in which GALLERY names the schema; GALLERY may also be such a URI or connection string itself.",
        };
        var precision = new Option<string>("--precision") { Description = "Stored vector precision: float32, or float16 (half the memory; cosines within about 1e-3).", DefaultValueFactory = _ => "float32" };
        precision.AcceptOnlyFromAmong("float32", "float16");
        var hnswAbove = new Option<int>("--hnsw-above") { Description = "Use an HNSW index (candidates re-ranked exactly) from this many faces on; below, every face is scored exactly.", DefaultValueFactory = _ => 50_000 }.AtLeast(1);
        var threshold = new Option<double?>("--threshold") { Description = "Open-set threshold (cosine): a probe is a known subject only when its best score is above it. Or calibrate one with 'gallery calibrate'." };
        var force = new Option<bool>("--force") { Description = "Replace an existing gallery file (the new one is written aside and renamed over it once complete)." };
        var json = new Option<bool>("--json") { Description = "Print the gallery's stats as JSON." };
        var command = new Command("create", "Create an empty gallery file bound to a recognition model (and detector).") { gallery, model, detector, store, precision, hnswAbove, threshold, force, json };
        command.SetAction(parse =>
        {
            string path = Location(parse.GetValue(gallery)!, parse.GetValue(store));
            bool postgres = PostgresGalleryStore.IsLocation(path);
            if (!postgres && Directory.Exists(path)) throw new UserErrorException($"GALLERY: '{path}' is a folder; give a file name such as faces.gallery.");
            if (!postgres && File.Exists(path) && !parse.GetValue(force))
                throw new UserErrorException(IsSqlite(path)
                    ? $"'{path}' already exists; pass --force to replace it, or enrol into it with 'faceforge gallery enroll'."
                    : $"'{path}' already exists and is not a gallery; choose another name (--force would replace the file).");
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
            FaceGallery created;
            try
            {
                created = FaceGallery.Create(path, recorded, options, overwrite: parse.GetValue(force));
            }
            catch (IOException e) when (postgres && e is not GalleryUnavailableException && e is not LockedException)
            {
                throw new UserErrorException($"{e.Message} Pass --force to replace it.");
            }
            using var _ = created;
            if (parse.GetValue(threshold) is double value) created.SetThreshold(value);
            var writer = parse.InvocationConfiguration.Output;
            // A photo given to a crop gallery is taken whole as a face: say so now, not after a wrong enrolment.
            if (detectorPath is null)
                parse.InvocationConfiguration.Error.WriteLine($"note: no --detector, so enrolled and probe images are taken as aligned face crops ({info.InputWidth}x{info.InputHeight}, "
                    + $"template {info.Template}), not photos; to enrol photos, create the gallery with --detector (a FaceForge or ONNX detector with landmarks).");
            if (parse.GetValue(json)) JsonOutput.Write(writer, GalleryStatsCommand.Describe(created.Stats()));
            else writer.WriteLine($"created {created.Stats().Store}: {info.Architecture} ({info.EmbeddingSize}-d, fingerprint {fingerprint[..12]}), {(detectorPath is null ? "aligned crops" : "photos via " + Path.GetFileName(detectorPath))}, {parse.GetValue(precision)}");
            return 0;
        });
        return command;
    }

    private static bool IsSqlite(string path)
    {
        Span<byte> head = stackalloc byte[16];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(head, 16, throwOnEndOfStream: false) == 16 && head.SequenceEqual("SQLite format 3\0"u8);
    }

    /// <summary>The gallery's location: GALLERY itself, or with --store a PostgreSQL server, GALLERY's name as the schema in it.</summary>
    private static string Location(string gallery, string? store)
    {
        if (store is null || store.Equals("sqlite", StringComparison.OrdinalIgnoreCase)) return gallery;
        if (!PostgresGalleryStore.IsLocation(store))
            throw new UserErrorException($"--store: '{store}' is neither sqlite nor a PostgreSQL URI (postgres://user@host:port/db) or connection string (Host=…).");
        if (PostgresGalleryStore.IsLocation(gallery)) throw new UserErrorException("--store: GALLERY is a PostgreSQL location already; give one of them.");
        string schema = Path.GetFileNameWithoutExtension(gallery).ToLowerInvariant();
        if (!System.Text.RegularExpressions.Regex.IsMatch(schema, "^[A-Za-z_][A-Za-z0-9_]{0,62}$"))
            throw new UserErrorException($"GALLERY: '{schema}' cannot name a PostgreSQL schema (letters, digits, underscores).");
        Npgsql.NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = PostgresGalleryStore.ConnectionString(store);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"--store: {e.Message}");
        }
        builder.SearchPath = schema;
        return builder.ConnectionString;
    }
}
