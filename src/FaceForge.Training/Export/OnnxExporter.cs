using FaceForge.Formats.PyTorch;
using FaceForge.Models;
using FaceForge.Training.Detection;
using FaceForge.Training.Embedding;
using FaceForge.Training.Export.Onnx;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Export;

/// <summary>Options of <see cref="OnnxExporter.Export"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>ONNX operator set (<see cref="OnnxExporter.MinOpset"/> to <see cref="OnnxExporter.MaxOpset"/>). <value>17 by default.</value></summary>
    public int Opset { get; init; } = 17;

    /// <summary>Run the written file with ONNX Runtime on a random batch of two and compare with libtorch. <value>On by default.</value></summary>
    public bool Verify { get; init; } = true;

    /// <summary>Seed of the verification input.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>What <see cref="OnnxExporter.Export"/> wrote, and how closely ONNX Runtime reproduced libtorch.</summary>
/// <param name="Path">The ONNX file.</param>
/// <param name="Info">The model's metadata (also inside the file).</param>
/// <param name="Nodes">Graph nodes.</param>
/// <param name="Initializers">Weight tensors.</param>
/// <param name="Bytes">File size.</param>
/// <param name="Outputs">Output names.</param>
/// <param name="MaxAbsDifference">Largest absolute difference of any output value between ONNX Runtime and libtorch (null without verification).</param>
/// <param name="MinCosine">Recognition models: the lowest cosine between the two runtimes' embeddings of one input.</param>
public sealed record OnnxExportResult(string Path, ModelInfo Info, int Nodes, int Initializers, long Bytes, IReadOnlyList<string> Outputs, double? MaxAbsDifference, double? MinCosine);

/// <summary>
/// Writes FaceForge models (every backbone of <c>BackboneCatalog</c>, with a PFE head when present, and the
/// RetinaFace / occlusion-aware detectors) as ONNX: batch norms folded into the convolutions and linears before
/// them, a dynamic batch axis (and dynamic image size for detectors), model.json and the weights' fingerprint in
/// the metadata. TorchSharp has no exporter; this one walks the modules (see <see cref="OnnxGraph"/>).
/// </summary>
public static class OnnxExporter
{
    /// <summary>Lowest supported opset.</summary>
    public const int MinOpset = 13;

    /// <summary>Highest supported opset.</summary>
    public const int MaxOpset = 21;

    /// <summary>Exports the FaceForge model file <paramref name="modelPath"/> to <paramref name="outputPath"/> (written atomically).</summary>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form (named in the message).</exception>
    /// <exception cref="InvalidDataException">The model file is unreadable or does not fit its architecture.</exception>
    public static OnnxExportResult Export(string modelPath, string outputPath, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        if (options.Opset is < MinOpset or > MaxOpset) throw new ArgumentException($"Opset {options.Opset} is not supported; choose {MinOpset} to {MaxOpset}.");
        TorchRuntime.EnsureLoaded();
        var (info, weights) = ModelFile.Read(modelPath);
        string fingerprint = ModelFingerprint.Of(modelPath);
        var graph = new OnnxGraph();
        Func<float[], long[], Dictionary<string, float[]>> reference;
        IDisposable owner;
        long[] verifyShape;
        if (info.Kind == ModelInfo.DetectionKind)
        {
            var network = OpenDetector(info, weights, modelPath);
            owner = network;
            ExportDetector(graph, network);
            reference = (data, shape) => RunDetector(network, data, shape);
            verifyShape = [2, 3, 96, 128];
        }
        else
        {
            var embedder = TorchFaceEmbedder.FromWeights(info, weights, modelPath);
            owner = embedder;
            ExportRecognition(graph, embedder, info);
            reference = (data, shape) => RunEmbedder(embedder, data, shape);
            verifyShape = [2, 3, info.InputHeight, info.InputWidth];
        }
        using (owner)
        {
            graph.Proto.Name = info.Architecture;
            var model = new ModelProto
            {
                IrVersion = IrVersion(options.Opset),
                ProducerName = "FaceForge",
                ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString(3) ?? "0",
                ModelVersion = 1,
                DocString = $"{info.Architecture} exported by FaceForge from {Path.GetFileName(modelPath)}",
                Graph = graph.Proto,
            };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
            foreach (var (key, value) in OnnxModelMetadata.Describe(info, fingerprint))
                model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            AtomicFile.Write(outputPath, stream => model.WriteTo(stream));
            double? maxDiff = null, minCos = null;
            if (options.Verify) (maxDiff, minCos) = Verify(outputPath, reference, verifyShape, options.Seed, info.Kind == ModelInfo.RecognitionKind);
            return new OnnxExportResult(outputPath, info, graph.Proto.Node.Count, graph.Proto.Initializer.Count, new FileInfo(outputPath).Length,
                graph.Proto.Output.Select(o => o.Name).ToArray(), maxDiff, minCos);
        }
    }

    // ONNX's table of which IR version introduced which opsets.
    private static long IrVersion(int opset) => opset switch { <= 14 => 7, <= 18 => 8, <= 20 => 9, _ => 10 };

    private static void ExportRecognition(OnnxGraph graph, TorchFaceEmbedder embedder, ModelInfo info)
    {
        if (embedder.Network is not IOnnxBackbone backbone)
            throw new NotSupportedException($"ONNX export: architecture '{info.Architecture}' ({embedder.Network.GetType().Name}) has no ONNX form.");
        var input = graph.Input("input", "batch", 3, info.InputHeight, info.InputWidth);
        var map = backbone.ExportFeatureMap(graph, input);
        graph.Output(backbone.ExportEmbed(graph, map), "embedding", "batch", info.EmbeddingSize);
        if (embedder.Uncertainty is { } head)
            graph.Output(graph.Emit(head, map, "uncertainty"), "log_sigma_sq", "batch", info.EmbeddingSize);
    }

    private static nn.Module<Tensor, DetectionOutput> OpenDetector(ModelInfo info, IReadOnlyDictionary<string, TensorData> weights, string path)
    {
        nn.Module<Tensor, DetectionOutput> network;
        try
        {
            network = DetectorCatalog.Create(info);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        try
        {
            StateDict.Load(network, weights, strict: true, path);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        network.eval();
        return network;
    }

    private static void ExportDetector(OnnxGraph graph, nn.Module<Tensor, DetectionOutput> network)
    {
        var aofd = network as OcclusionAwareDetector;
        var retina = aofd?.Detector ?? network as RetinaFaceMobileNet
            ?? throw new NotSupportedException($"ONNX export: detector {network.GetType().Name} has no ONNX form.");
        var input = graph.Input("input", "batch", 3, "height", "width");
        var (boxes, scores, landmarks, features) = graph.Scoped(aofd is null ? "" : "detector", () => retina.ExportOnnx(graph, input));
        graph.Output(boxes, "loc", "batch", "anchors", 4);
        graph.Output(scores, "conf", "batch", "anchors", 2);
        graph.Output(landmarks, "landms", "batch", "anchors", 10);
        if (aofd is not null) graph.Output(aofd.ExportOcclusion(graph, features[0]), "occlusion", "batch", 1, "cells_y", "cells_x");
    }

    private static Dictionary<string, float[]> RunEmbedder(TorchFaceEmbedder embedder, float[] data, long[] shape)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = torch.tensor(data, shape);
        var result = new Dictionary<string, float[]>();
        if (embedder.Uncertainty is { } head)
        {
            var backbone = embedder.Backbone;
            var map = backbone.FeatureMap(input);
            result["embedding"] = OnnxGraph.Floats(backbone.Embed(map));
            result["log_sigma_sq"] = OnnxGraph.Floats(head.call(map));
        }
        else result["embedding"] = OnnxGraph.Floats(embedder.Network.call(input));
        return result;
    }

    private static Dictionary<string, float[]> RunDetector(nn.Module<Tensor, DetectionOutput> network, float[] data, long[] shape)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = torch.tensor(data, shape);
        var output = network.call(input);
        var result = new Dictionary<string, float[]>
        {
            ["loc"] = OnnxGraph.Floats(output.Boxes),
            ["conf"] = OnnxGraph.Floats(nn.functional.softmax(output.Logits, -1)),
            ["landms"] = OnnxGraph.Floats(output.Landmarks),
        };
        if (network is OcclusionAwareDetector aofd)
            result["occlusion"] = OnnxGraph.Floats(torch.sigmoid(aofd.Occlusion(aofd.Detector.Features(input)[0])));
        return result;
    }

    // Random pixels in the model's value range (a batch of two, which also checks the batch axis is really dynamic).
    private static (double MaxAbs, double? MinCosine) Verify(string path, Func<float[], long[], Dictionary<string, float[]>> reference, long[] shape, int seed, bool recognition)
    {
        var random = new Random(seed);
        var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < data.Length; i++) data[i] = recognition ? (float)(random.NextDouble() * 2 - 1) : (float)(random.NextDouble() * 255 - 117);
        var expected = reference(data, shape);
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(path, options);
        var tensor = new DenseTensor(data, shape.Select(d => (int)d).ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", tensor)]);
        double maxAbs = 0;
        double? minCos = null;
        foreach (var (name, want) in expected)
        {
            var got = results.First(r => r.Name == name).AsEnumerable<float>().ToArray();
            if (got.Length != want.Length) throw new InvalidOperationException($"ONNX export check: output '{name}' has {got.Length} values, libtorch {want.Length}.");
            for (int i = 0; i < got.Length; i++) maxAbs = Math.Max(maxAbs, Math.Abs(got[i] - want[i]));
            if (name != "embedding") continue;
            int d = got.Length / (int)shape[0];
            for (int n = 0; n < shape[0]; n++)
            {
                double cos = FaceForge.Embedding.Similarity.Cosine(got.AsSpan(n * d, d), want.AsSpan(n * d, d));
                minCos = Math.Min(minCos ?? 1, cos);
            }
        }
        return (maxAbs, minCos);
    }
}
