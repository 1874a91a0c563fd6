using System.CommandLine;
using FaceForge.Embedding;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge embed`: embeddings of images.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Recognition model file.", Required = true };
        var images = new Argument<string[]>("IMAGES") { Description = "Photos (a face is detected and aligned) or aligned crops (exactly the model's input size, or any size with --aligned).", Arity = ArgumentArity.OneOrMore };
        var landmarks = ImageInputs.LandmarksOption();
        var detector = ImageInputs.DetectorOption();
        var aligned = ImageInputs.AlignedOption();
        var flip = new Option<FlipMode>("--flip") { Description = "Flip test: None, Add or Concatenate [default: Add].", DefaultValueFactory = _ => FlipMode.Add };
        var json = new Option<bool>("--json") { Description = "Print JSON (image, embedding, quality: the model's, higher is better, null when it carries none; sigma_sq_harmonic_mean for models with an uncertainty head)." };
        var command = new Command("embed", "Compute L2-normalised face embeddings.") { model, images, landmarks, detector, aligned, flip, json };
        command.SetAction(parse =>
        {
            using var embedder = ModelInputs.OpenEmbedder(parse.GetValue(model)!, "--model");
            using var inputs = ImageInputs.From(parse, landmarks, detector, aligned, embedder);
            var paths = parse.GetValue(images)!;
            var (crops, noFace) = inputs.CropAll(paths);
            if (noFace is not null)
            {
                parse.InvocationConfiguration.Error.WriteLine($"no face found in '{noFace}'");
                return DetectCommand.NoFaceExitCode;
            }
            var faces = EmbeddingBatcher.EmbedAllFaces(embedder, crops, crop => crop, parse.GetValue(flip));
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, paths.Select((p, i) => new
                {
                    Image = p, Embedding = faces[i].Vector, faces[i].Quality, QualityKind = embedder.Info.Quality, faces[i].SigmaSqHarmonicMean,
                }).ToArray());
            else
                for (int i = 0; i < paths.Length; i++)
                    writer.WriteLine($"{paths[i]}\t{string.Join(' ', faces[i].Vector.Select(v => v.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)))}"
                        + (faces[i].Quality is double q ? $"\tquality {q.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}" : ""));
            return 0;
        });
        return command;
    }
}
