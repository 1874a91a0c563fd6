using System.CommandLine;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery stats`: sizes, model, store and index of a gallery.</summary>
internal static class GalleryStatsCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var json = new Option<bool>("--json") { Description = "Print JSON: faces, subjects, embedding_size, precision, model, detector, store, index, hnsw_above, threshold, threshold_fpir." };
        var command = new Command("stats", "Figures of a gallery: faces, subjects, embedding size, model, store and index kind.") { gallery, json };
        command.SetAction(parse =>
        {
            using var opened = FaceGallery.Open(parse.GetValue(gallery)!);
            var stats = opened.Stats();
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, Describe(stats));
            else
            {
                writer.WriteLine($"{stats.Faces} faces of {stats.Subjects} subjects, {stats.EmbeddingSize}-d {stats.Precision.ToString().ToLowerInvariant()}, {stats.Index} search (HNSW from {stats.HnswAbove} faces)");
                writer.WriteLine($"model {stats.Model.Architecture} {stats.Model.ModelPath} (fingerprint {stats.Model.Fingerprint[..Math.Min(12, stats.Model.Fingerprint.Length)]}), detector {stats.Model.DetectorPath ?? "none (aligned crops)"}");
                writer.WriteLine($"store {stats.Store}; threshold {(stats.Threshold is double t ? t.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture) : "none")}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The JSON shape of a gallery's stats (shared by create and stats).</summary>
    public static object Describe(GalleryStats stats) => new
    {
        stats.Faces,
        stats.Subjects,
        stats.EmbeddingSize,
        Precision = stats.Precision.ToString().ToLowerInvariant(),
        Model = new { stats.Model.Architecture, stats.Model.Fingerprint, Path = stats.Model.ModelPath, stats.Model.Template },
        Detector = stats.Model.DetectorPath,
        Store = new { Kind = stats.Store.StartsWith("postgres://", StringComparison.Ordinal) ? "postgres" : "sqlite", Location = stats.Store },
        Index = stats.Index,
        stats.HnswAbove,
        stats.Threshold,
        stats.ThresholdFpir,
    };
}
