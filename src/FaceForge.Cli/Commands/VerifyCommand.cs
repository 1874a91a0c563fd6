using System.CommandLine;
using FaceForge.Embedding;
using FaceForge.Pipeline;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge verify`: are two faces the same person?</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file.", Required = true };
        var first = new Argument<string>("A") { Description = "First image." };
        var second = new Argument<string>("B") { Description = "Second image." };
        var landmarks = new Option<string?>("--landmarks") { Description = "Landmarks file used to align the images." };
        var detector = new Option<string?>("--detector") { Description = $"Detect faces (FaceForge detector model or ONNX) and compare the largest of each photo; exit code {DetectCommand.NoFaceExitCode} if a photo has none." };
        var threshold = new Option<double?>("--threshold") { Description = "Cosine threshold (default: the model's calibrated one)." };
        var json = new Option<bool>("--json") { Description = "Print JSON (score, threshold, same)." };
        var command = new Command("verify", "Compare two faces: cosine similarity and a decision.") { model, first, second, landmarks, detector, threshold, json };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            if (!File.Exists(modelPath)) throw new UserErrorException($"--model: '{modelPath}' does not exist.");
            using var embedder = ModelInputs.OpenEmbedder(modelPath, "--model");
            string[] paths = [parse.GetValue(first)!, parse.GetValue(second)!];
            float[][] vectors;
            if (parse.GetValue(detector) is { } detectorPath)
            {
                if (parse.GetValue(landmarks) is not null) throw new UserErrorException("Give --landmarks or --detector, not both.");
                using var faces = ModelInputs.Open(detectorPath, "--detector");
                var analyzer = new FacePipeline(faces, embedder);
                vectors = new float[2][];
                for (int i = 0; i < 2; i++)
                {
                    if (!File.Exists(paths[i])) throw new UserErrorException($"Image '{paths[i]}' does not exist.");
                    var face = analyzer.Largest(FaceForge.Imaging.ImageDecoder.Decode(paths[i]));
                    if (face is null)
                    {
                        parse.InvocationConfiguration.Error.WriteLine($"no face found in '{paths[i]}'");
                        return DetectCommand.NoFaceExitCode;
                    }
                    vectors[i] = face.Embedding;
                }
            }
            else
            {
                var points = ImageInputs.Landmarks(parse.GetValue(landmarks));
                vectors = embedder.Embed(paths.Select(p => ImageInputs.Load(p, points, embedder)).ToArray(), FlipMode.Add);
            }
            double score = Similarity.Cosine(vectors[0], vectors[1]);
            double? t = parse.GetValue(threshold) ?? embedder.Info.Threshold;
            if (t is double given && !(given >= -1 && given <= 1)) throw new UserErrorException($"--threshold: {given} is not a cosine in [-1, 1].");
            bool? same = t is double value ? score > value : null;
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { Score = score, Threshold = t, Same = same });
            else writer.WriteLine(same is null
                ? $"score {score:0.0000} (no threshold: pass --threshold, or calibrate the model with eval verify --calibrate)"
                : $"score {score:0.0000} threshold {t:0.0000}: {(same.Value ? "same person" : "different people")}");
            return 0;
        });
        return command;
    }
}
