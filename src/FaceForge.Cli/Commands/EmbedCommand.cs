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
        var foreign = new ForeignOnnxOptions();
        foreign.AddTo(command);
        command.SetAction(parse =>
        {
            using var embedder = ModelInputs.OpenEmbedder(parse.GetValue(model)!, "--model", foreign.Read(parse));
            using var inputs = ImageInputs.From(parse, landmarks, detector, aligned, embedder);
            var paths = parse.GetValue(images)!;
            var faces = inputs.EmbedAll(paths, parse.GetValue(flip));
            var writer = parse.InvocationConfiguration.Output;
            // Images without a face keep their place (embedding null in JSON, named on the error stream) and set the exit code.
            if (parse.GetValue(json))
                JsonOutput.Write(writer, paths.Select((p, i) => new
                {
                    Image = p, Embedding = faces[i]?.Vector, Quality = faces[i]?.Quality, QualityKind = embedder.Info.Quality, SigmaSqHarmonicMean = faces[i]?.SigmaSqHarmonicMean,
                }).ToArray());
            else
                for (int i = 0; i < paths.Length; i++)
                    if (faces[i] is { } face)
                        writer.WriteLine($"{paths[i]}\t{string.Join(' ', face.Vector.Select(v => v.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)))}"
                            + (face.Quality is double q ? $"\tquality {q.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}" : ""));
            return faces.All(f => f is not null) ? 0 : DetectCommand.NoFaceExitCode;
        });
        return command;
    }
}
