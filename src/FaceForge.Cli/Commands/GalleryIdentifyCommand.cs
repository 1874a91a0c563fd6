using System.CommandLine;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery identify`: every face of each image against the gallery, with the open-set decision.</summary>
internal static class GalleryIdentifyCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var images = new Argument<string[]>("IMAGES") { Description = "Photos (every face is identified) or aligned crops, as the gallery was created.", Arity = ArgumentArity.OneOrMore };
        var topK = new Option<int>("--top-k") { Description = "How many subjects to list per face, best first.", DefaultValueFactory = _ => 5 }.Between(1, 1000);
        var model = GalleryCommand.ModelOverride();
        var detector = GalleryCommand.DetectorOverride();
        var json = new Option<bool>("--json") { Description = "Print JSON: per image, its faces (box, best, known, matches with subject, score, face_id), and the threshold." };
        var command = new Command("identify", $"Identify faces against a gallery: a subject's score is its best template's cosine; 'known' when the best score is above the gallery's threshold; exit code {DetectCommand.NoFaceExitCode} when an image holds no face.")
        {
            gallery, images, topK, model, detector, json,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(gallery)!;
            using var opened = FaceGallery.Open(path);
            using var inputs = GalleryInputs.Open(opened, path, parse.GetValue(model), parse.GetValue(detector));
            var paths = parse.GetValue(images)!;
            var found = inputs.Faces(paths, (_, faces) => faces);
            if (opened.IndexKind == "hnsw" && opened.HnswCount is null)
            {
                // Minutes for a large gallery's first search; a saved graph loads in seconds.
                var error = parse.InvocationConfiguration.Error;
                error.WriteLine($"HNSW graph over {opened.Count:N0} faces: loading the one saved beside the gallery, or building it...");
                var clock = System.Diagnostics.Stopwatch.StartNew();
                opened.PrepareIndex();
                error.WriteLine($"HNSW graph {opened.HnswSource} in {clock.Elapsed.TotalSeconds:0.0} s.");
            }
            int k = parse.GetValue(topK);
            var results = paths.Select((image, i) => new
            {
                Image = image,
                Faces = found[i].Select(face =>
                {
                    var answer = opened.Identify(face.Embedding.Vector, k);
                    return new
                    {
                        Box = face.Box is { } b ? new[] { b.Left, b.Top, b.Right, b.Bottom }.Select(v => MathF.Round(v, 1)).ToArray() : null,
                        face.Embedding.Quality,
                        Best = answer.Best?.Subject,
                        Score = answer.Best?.Score,
                        answer.Known,
                        Matches = answer.Matches.Select(m => new { m.Subject, Score = Math.Round(m.Score, 6), m.FaceId }).ToArray(),
                        answer.Index,
                    };
                }).ToArray(),
            }).ToArray();
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { Threshold = opened.Threshold, Images = results });
            else
                foreach (var image in results)
                {
                    if (image.Faces.Length == 0) writer.WriteLine($"{image.Image}\tno face");
                    foreach (var face in image.Faces)
                        writer.WriteLine($"{image.Image}\t{(face.Known == false ? "unknown" : face.Best ?? "empty gallery")}\t{face.Score:0.####}"
                            + (face.Known is null ? "\t(no threshold)" : "") + (face.Box is { } box ? $"\tbox {string.Join(',', box)}" : ""));
                }
            // As detect, embed and verify: a script learns that some image held no face.
            return results.All(r => r.Faces.Length > 0) ? 0 : DetectCommand.NoFaceExitCode;
        });
        return command;
    }
}
