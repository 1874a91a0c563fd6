using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Weights;

namespace FaceForge.Tests;

/// <summary>Small recognition models for CLI tests: a MobileFaceNet at width 0.125 with 32-d embeddings, seeded.</summary>
internal static class TestModels
{
    public static ModelInfo Small { get; } = BackboneCatalog.Defaults("mobilefacenet") with { Options = new() { ["width"] = 0.125 }, EmbeddingSize = 32 };

    /// <summary>Writes an untrained model with fixed weights to DIR/random.ffm.</summary>
    public static string Random(string? dir = null)
    {
        string path = Path.Combine(dir ?? TestPaths.NewTempDirectory("model"), "random.ffm");
        TorchSharp.torch.manual_seed(5);
        using var network = BackboneCatalog.Create(Small);
        ModelFile.Save(path, Small, StateDict.Export(network));
        return path;
    }
}
