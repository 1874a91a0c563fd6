using System.CommandLine;
using FaceForge.Embedding;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge embed`: embeddings of images.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file.", Required = true };
        var images = new Argument<string[]>("IMAGES") { Description = "Images (aligned crops, or any photo with --landmarks).", Arity = ArgumentArity.OneOrMore };
        var landmarks = new Option<string?>("--landmarks") { Description = "Landmarks file used to align the images." };
        var flip = new Option<FlipMode>("--flip") { Description = "Flip test: Add (default), Concatenate or None.", DefaultValueFactory = _ => FlipMode.Add };
        var json = new Option<bool>("--json") { Description = "Print JSON (image, embedding)." };
        var command = new Command("embed", "Compute L2-normalised face embeddings.") { model, images, landmarks, flip, json };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            if (!File.Exists(modelPath)) throw new UserErrorException($"--model: '{modelPath}' does not exist.");
            using var embedder = ModelInputs.OpenEmbedder(modelPath, "--model");
            var points = ImageInputs.Landmarks(parse.GetValue(landmarks));
            var paths = parse.GetValue(images)!;
            var vectors = EmbeddingBatcher.EmbedAll(embedder, paths, p => ImageInputs.Load(p, points, embedder), parse.GetValue(flip));
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, paths.Select((p, i) => new { Image = p, Embedding = vectors[i] }).ToArray());
            else
                for (int i = 0; i < paths.Length; i++)
                    writer.WriteLine($"{paths[i]}\t{string.Join(' ', vectors[i].Select(v => v.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)))}");
            return 0;
        });
        return command;
    }
}
