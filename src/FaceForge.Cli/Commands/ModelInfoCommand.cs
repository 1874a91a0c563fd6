using System.CommandLine;
using FaceForge.Models;
using FaceForge.Training.Detection;
using FaceForge.Training.Embedding;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge model info`: what a model file holds, with parameters and multiply-adds counted from the network.</summary>
internal static class ModelInfoCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "FaceForge model file (.ffm)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: architecture, kind, input_width, input_height, template, embedding_size, parameters, multiply_adds, quality, threshold…" };
        var command = new Command("info", "Describe a model file: architecture, input and template, embedding size, parameters and multiply-adds (counted from the network).") { model, json };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            if (!File.Exists(path)) throw new UserErrorException(Directory.Exists(path) ? $"'{path}' is a folder, not a model file." : $"Model '{path}' does not exist.");
            TorchRuntime.EnsureLoaded();
            var (info, weights) = ModelFile.Read(path);
            bool detector = info.Kind == ModelInfo.DetectionKind;
            (long Parameters, long MultiplyAdds) counts;
            try
            {
                if (detector)
                {
                    using var network = DetectorCatalog.Create(info);
                    StateDict.Load(network, weights, strict: true, path);
                    counts = NetworkComplexity.Measure(network, info.InputWidth, info.InputHeight, x => network.call(x));
                }
                else
                {
                    // The embedder loads the backbone and, for quality "uncertainty", checks the head's weights are there.
                    using var embedder = TorchFaceEmbedder.FromWeights(info, weights, path);
                    var network = embedder.Network;
                    counts = NetworkComplexity.Measure(network, info.InputWidth, info.InputHeight, x => network.call(x));
                }
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{path}: {e.Message}", e);
            }
            var result = new
            {
                info.Architecture, info.Kind, info.InputWidth, info.InputHeight, info.Template, Width = info.Options.GetValueOrDefault("width", 1),
                EmbeddingSize = detector ? (int?)null : info.EmbeddingSize, counts.Parameters, counts.MultiplyAdds,
                Quality = detector ? (QualityKind?)null : info.Quality, info.Threshold, info.ThresholdFlip, info.NormalizationMean, info.NormalizationStd, info.Source,
            };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else
            {
                writer.WriteLine($"{path}: {info.Architecture} ({info.Kind}), width {result.Width}, input {info.InputWidth}x{info.InputHeight}" + (detector ? "" : $" ({info.Template}), {info.EmbeddingSize}-d embedding"));
                writer.WriteLine($"{counts.Parameters:N0} parameters, {counts.MultiplyAdds / 1e6:0.0} M multiply-adds per {(detector ? $"{info.InputWidth}x{info.InputHeight} image" : "face")}");
                if (!detector) writer.WriteLine($"quality: {SettingsJsonName(info.Quality)}");
                if (info.Threshold is double t) writer.WriteLine($"calibrated threshold {t:0.0000} (flip {info.ThresholdFlip ?? "Add"})");
            }
            return 0;
        });
        return command;
    }

    private static string SettingsJsonName(QualityKind quality) => System.Text.Json.JsonSerializer.Serialize(quality).Trim('"');
}
