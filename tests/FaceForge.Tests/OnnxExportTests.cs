using System.Text.Json;
using FaceForge.Cli;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Detection;
using FaceForge.Training.Embedding;
using FaceForge.Training.Export;
using FaceForge.Training.Export.Onnx;
using FaceForge.Training.Heads;
using FaceForge.Training.Weights;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;

namespace FaceForge.Tests;

/// <summary>ONNX export: every backbone and detector, run by ONNX Runtime, against libtorch.</summary>
public class OnnxExportTests
{
    // Small widths keep the graphs of every depth while the test stays quick.
    public static TheoryData<string> Backbones => new(BackboneCatalog.Names);

    private static ModelInfo Small(string architecture) => architecture == "mobilefacenet-casia"
        ? BackboneCatalog.Defaults(architecture)
        : BackboneCatalog.Defaults(architecture) with { Options = new() { ["width"] = 0.125 }, EmbeddingSize = 64 };

    // Random affine and running statistics in every batch norm and random PReLU slopes: fresh ones (mean 0,
    // variance 1, scale 1) would let a wrong fold pass unnoticed.
    private static void Perturb(torch.nn.Module network, int seed)
    {
        torch.manual_seed(seed);
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in network.named_modules())
        {
            switch (module)
            {
                case BatchNorm bn:
                    bn.running_mean!.copy_(torch.randn(bn.num_features) * 0.2);
                    bn.running_var!.copy_(torch.rand(bn.num_features) + 0.5);
                    bn.weight?.copy_(torch.randn(bn.num_features) * 0.2 + 1);
                    bn.bias?.copy_(torch.randn(bn.num_features) * 0.2);
                    break;
                case ChannelPReLU prelu:
                    prelu.Weight.copy_(torch.rand(prelu.Weight.shape) * 0.5);
                    break;
            }
        }
    }

    private static string RandomModel(ModelInfo info, string dir, bool uncertainty = false)
    {
        string path = Path.Combine(dir, info.Architecture + ".ffm");
        using var network = BackboneCatalog.Create(info);
        Perturb(network, 3);
        var weights = StateDict.Export(network);
        if (uncertainty)
        {
            info = info with { Quality = QualityKind.Uncertainty };
            using var head = TorchFaceEmbedder.CreateUncertaintyHead(info, network);
            Perturb(head, 4);
            foreach (var (key, value) in StateDict.Export(head)) weights[UncertaintyHead.WeightPrefix + key] = value;
        }
        ModelFile.Save(path, info, weights);
        return path;
    }

    private static RgbImage[] Crops(ModelInfo info, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var pixels = new byte[3 * info.InputWidth * info.InputHeight];
            random.NextBytes(pixels);
            return new RgbImage(info.InputWidth, info.InputHeight, pixels);
        }).ToArray();
    }

    private static ModelProto ReadProto(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }

    [Theory]
    [MemberData(nameof(Backbones))]
    public void EveryBackboneRunsInOnnxRuntimeAsInLibtorch(string architecture)
    {
        string dir = TestPaths.NewTempDirectory("onnx-" + architecture);
        var info = Small(architecture);
        string ffm = RandomModel(info, dir), onnx = Path.Combine(dir, "model.onnx");
        var result = OnnxExporter.Export(ffm, onnx);
        Assert.True(result.MinCosine >= 0.99999, $"{architecture}: cosine {result.MinCosine}");

        // Batch norms after convolutions and linears are folded away; only those before a convolution (IResNet's
        // pre-activation and its last one) remain. PReLU is written as depthwise convolutions and an Add, never as
        // PRelu (ONNX Runtime would leave its blocked layout for it).
        var proto = ReadProto(onnx);
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "PRelu");
        int preluAdds = proto.Graph.Node.Count(n => n.OpType == "Conv" && n.Input[1].Contains("one_minus_slope", StringComparison.Ordinal));
        Assert.True(preluAdds > 0, $"{architecture}: no PReLU found");
        int batchNorms = proto.Graph.Node.Count(n => n.OpType == "BatchNormalization");
        if (architecture.StartsWith("iresnet", StringComparison.Ordinal))
            Assert.Equal(1 + proto.Graph.Node.Count(n => n.OpType == "Add") - preluAdds, batchNorms);
        else Assert.Equal(0, batchNorms);
        Assert.Equal("batch", proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(ModelFingerprint.Of(ffm), ModelFingerprint.Of(onnx));

        // The core's embedder (no libtorch) gives TorchFaceEmbedder's embeddings and magnitudes, flip test included,
        // for a batch of three: the batch axis is really dynamic.
        using var torchEmbedder = TorchFaceEmbedder.Open(ffm);
        using var onnxEmbedder = new OnnxFaceEmbedder(onnx);
        Assert.Equal(ModelFile.SerializeInfo(torchEmbedder.Info), ModelFile.SerializeInfo(onnxEmbedder.Info));
        var crops = Crops(info, 3, 7);
        foreach (var flip in new[] { FlipMode.None, FlipMode.Add, FlipMode.Concatenate })
        {
            var expected = torchEmbedder.EmbedFaces(crops, flip);
            var actual = onnxEmbedder.EmbedFaces(crops, flip);
            for (int i = 0; i < crops.Length; i++)
            {
                Assert.Equal(expected[i].Vector.Length, actual[i].Vector.Length);
                double cosine = expected[i].Vector.Zip(actual[i].Vector, (a, b) => (double)a * b).Sum();
                Assert.True(cosine >= 0.99999, $"{architecture} {flip} crop {i}: cosine {cosine}");
                Assert.Equal(expected[i].Magnitude, actual[i].Magnitude, expected[i].Magnitude * 1e-4);
            }
        }
    }

    [Fact]
    public void UncertaintyHeadIsExportedWithItsVariances()
    {
        string dir = TestPaths.NewTempDirectory("onnx-pfe");
        var info = Small("mobilefacenet");
        string ffm = RandomModel(info, dir, uncertainty: true), onnx = Path.Combine(dir, "pfe.onnx");
        var result = OnnxExporter.Export(ffm, onnx);
        Assert.Contains("log_sigma_sq", result.Outputs);
        using var torchEmbedder = TorchFaceEmbedder.Open(ffm);
        using var onnxEmbedder = new OnnxFaceEmbedder(onnx);
        Assert.Equal(QualityKind.Uncertainty, onnxEmbedder.Info.Quality);
        var crops = Crops(info, 2, 9);
        foreach (var flip in new[] { FlipMode.None, FlipMode.Add, FlipMode.Concatenate })
        {
            var expected = torchEmbedder.EmbedFaces(crops, flip);
            var actual = onnxEmbedder.EmbedFaces(crops, flip);
            for (int i = 0; i < crops.Length; i++)
            {
                for (int k = 0; k < expected[i].SigmaSq!.Length; k++)
                    Assert.Equal(expected[i].SigmaSq![k], actual[i].SigmaSq![k], expected[i].SigmaSq![k] * 1e-3);
                Assert.Equal(expected[i].Quality!.Value, actual[i].Quality!.Value, Math.Abs(expected[i].Quality!.Value) * 1e-3);
            }
        }
    }

    [Theory]
    [InlineData(DetectorCatalog.RetinaFace)]
    [InlineData(DetectorCatalog.OcclusionAware)]
    public void DetectorsExportWithRawHeadOutputs(string architecture)
    {
        string dir = TestPaths.NewTempDirectory("onnx-" + architecture);
        var info = DetectorCatalog.Defaults(architecture);
        string ffm = Path.Combine(dir, "detector.ffm"), onnx = Path.Combine(dir, "detector.onnx");
        using (var network = DetectorCatalog.Create(info))
        {
            Perturb(network, 5);
            ModelFile.Save(ffm, info, StateDict.Export(network));
        }
        var result = OnnxExporter.Export(ffm, onnx);
        Assert.True(result.MaxAbsDifference < 1e-3, $"max difference {result.MaxAbsDifference}");
        Assert.Equal(architecture == DetectorCatalog.OcclusionAware ? ["loc", "conf", "landms", "occlusion"] : new[] { "loc", "conf", "landms" }, result.Outputs);
        var input = ReadProto(onnx).Graph.Input.Single().Type.TensorType.Shape.Dim;
        Assert.Equal(["batch", "", "height", "width"], input.Select(d => d.DimParam));
        using var detector = new OnnxFaceDetector(onnx);
        Assert.True(detector.HasLandmarks);
        Assert.Equal(architecture == DetectorCatalog.OcclusionAware, detector.PredictsOcclusion);
        Assert.Equal(architecture, detector.Name);
    }

    [SharedFact("data/lfw/images")]
    public void BuiltInDetectorFindsTheSameFacesThroughOnnxRuntime()
    {
        string dir = TestPaths.NewTempDirectory("onnx-builtin");
        string ffm = Path.Combine(dir, "retinaface.ffm"), onnx = Path.Combine(dir, "retinaface.onnx");
        using (var resource = typeof(TorchFaceDetector).Assembly.GetManifestResourceStream("FaceForge.Training.retinaface-mnet025.ffm")!)
        using (var file = File.Create(ffm))
            resource.CopyTo(file);
        OnnxExporter.Export(ffm, onnx);
        using var torchDetector = TorchFaceDetector.Open(ffm);
        using var onnxDetector = new OnnxFaceDetector(onnx);
        string images = Path.Combine(TestPaths.Shared!, "data/lfw/images");
        var photos = Directory.GetDirectories(images).OrderBy(d => d, StringComparer.Ordinal).Take(12).Select(d => Directory.GetFiles(d, "*.jpg").Order(StringComparer.Ordinal).First())
            .Concat(TestPaths.Shared is { } shared && Directory.Exists(Path.Combine(shared, "data/photos")) ? Directory.GetFiles(Path.Combine(shared, "data/photos"), "*.jpg").Order(StringComparer.Ordinal).Take(3) : []);
        int faces = 0;
        foreach (string photo in photos)
        {
            var image = ImageDecoder.Decode(photo);
            var expected = torchDetector.Detect(image);
            var actual = onnxDetector.Detect(image);
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                var (e, a) = (expected[i], actual[i]);
                Assert.True(Math.Abs(e.Box.Left - a.Box.Left) < 0.5 && Math.Abs(e.Box.Top - a.Box.Top) < 0.5 && Math.Abs(e.Box.Right - a.Box.Right) < 0.5 && Math.Abs(e.Box.Bottom - a.Box.Bottom) < 0.5,
                    $"{photo}: box {e.Box} vs {a.Box}");
                var (el, al) = (e.Landmarks!.Value.ToFlat(), a.Landmarks!.Value.ToFlat());
                for (int k = 0; k < 10; k++) Assert.True(Math.Abs(el[k] - al[k]) < 0.5, $"{photo}: landmark {k} {el[k]} vs {al[k]}");
                Assert.Equal(e.Score, a.Score, 1e-4);
            }
            faces += expected.Count;
        }
        Assert.True(faces >= 12, $"only {faces} faces found");
    }

    [Fact]
    public void UnsupportedLayerIsNamed()
    {
        var graph = new OnnxGraph();
        using var network = torch.nn.Sequential(("stem", torch.nn.Conv2d(3, 4, 3)), ("odd", torch.nn.ELU()));
        var error = Assert.Throws<NotSupportedException>(() => graph.Emit(network, graph.Input("input", "batch", 3, 8, 8), "net"));
        Assert.Contains("'net.odd'", error.Message);
        Assert.Contains("ELU", error.Message);
    }

    [Fact]
    public void OnnxWithoutFaceForgeMetadataNeedsTemplateAndNormalisation()
    {
        string dir = TestPaths.NewTempDirectory("onnx-foreign");
        var info = Small("mobilefacenet");
        string ffm = RandomModel(info, dir), onnx = Path.Combine(dir, "model.onnx"), foreign = Path.Combine(dir, "foreign.onnx");
        OnnxExporter.Export(ffm, onnx, new OnnxExportOptions { Verify = false });
        var proto = ReadProto(onnx);
        proto.MetadataProps.Clear();
        File.WriteAllBytes(foreign, Google.Protobuf.MessageExtensions.ToByteArray(proto));

        var error = Assert.Throws<InvalidDataException>(() => new OnnxFaceEmbedder(foreign));
        Assert.Contains("foreign.onnx", error.Message);
        Assert.Contains("no FaceForge metadata", error.Message);
        using IFaceEmbedder stated = new OnnxFaceEmbedder(foreign, new OnnxEmbedderOptions { Template = info.Template, NormalizationMean = 127.5f, NormalizationStd = 127.5f });
        using IFaceEmbedder own = new OnnxFaceEmbedder(onnx);
        var crops = Crops(info, 2, 1);
        Assert.Equal(own.Embed(crops, FlipMode.Add), stated.Embed(crops, FlipMode.Add));
        // The same rule on the command line, with the three options that state what the metadata would have.
        string crop = Path.Combine(dir, "crop.png");
        ImageEncoder.Save(crops[0], crop);
        var refused = CliHarness.Run("embed", crop, "--model", foreign, "--aligned");
        Assert.Equal(CliRunner.UserErrorExitCode, refused.Code);
        Assert.Contains("--onnx-template", refused.Error);
        var accepted = CliHarness.Run("embed", crop, "--model", foreign, "--aligned", "--onnx-template", info.Template, "--onnx-mean", "127.5", "--onnx-std", "127.5");
        Assert.True(accepted.Code == 0, accepted.Error);
        var misplaced = CliHarness.Run("embed", crop, "--model", ffm, "--aligned", "--onnx-mean", "127.5");
        Assert.Equal(CliRunner.UserErrorExitCode, misplaced.Code);
        // FaceForge's own export says how to feed it: options that would contradict it are refused, not ignored.
        var ignored = CliHarness.Run("embed", crop, "--model", onnx, "--aligned", "--onnx-mean", "0", "--onnx-std", "1");
        Assert.Equal(CliRunner.UserErrorExitCode, ignored.Code);
        Assert.Contains("carries FaceForge metadata", ignored.Error);
        Assert.Contains("(--onnx-template, --onnx-mean, --onnx-std)", ignored.Error);

        // Metadata whose embedding size contradicts the graph's output is refused when the file is opened.
        string lying = Path.Combine(dir, "lying.onnx");
        var lyingProto = ReadProto(onnx);
        foreach (var entry in lyingProto.MetadataProps.Where(m => m.Value.Contains("\"embedding_size\"", StringComparison.Ordinal)))
            entry.Value = System.Text.RegularExpressions.Regex.Replace(entry.Value, "\"embedding_size\": \\d+", $"\"embedding_size\": {info.EmbeddingSize * 2}");
        File.WriteAllBytes(lying, Google.Protobuf.MessageExtensions.ToByteArray(lyingProto));
        Assert.Contains($"has {info.EmbeddingSize} values a face, but the metadata says {info.EmbeddingSize * 2}", Assert.Throws<InvalidDataException>(() => new OnnxFaceEmbedder(lying)).Message);

        // Without the recorded fingerprint, the file's own hash stands for it.
        Assert.NotEqual(ModelFingerprint.Of(ffm), ModelFingerprint.Of(foreign));
    }

    [Fact]
    public void ExportCommandChecksItsArguments()
    {
        string dir = TestPaths.NewTempDirectory("onnx-cli");
        string model = TestModels.Random(dir), onnx = Path.Combine(dir, "m.onnx");
        var bad = CliHarness.Run("export", "onnx", "--model", model, "--out", onnx, "--opset", "9");
        Assert.Equal(CliRunner.UserErrorExitCode, bad.Code);
        Assert.Contains("--opset", bad.Error);
        Assert.False(File.Exists(onnx));
        var missing = CliHarness.Run("export", "onnx", "--model", Path.Combine(dir, "none.ffm"), "--out", onnx);
        Assert.Equal(CliRunner.UserErrorExitCode, missing.Code);
        Assert.Contains("none.ffm", missing.Error);

        var ok = CliHarness.Run("export", "onnx", "--model", model, "--out", onnx, "--json");
        Assert.True(ok.Code == 0, ok.Error);
        var json = JsonDocument.Parse(ok.Output).RootElement;
        Assert.True(json.GetProperty("min_cosine").GetDouble() >= 0.99999);
        var again = CliHarness.Run("export", "onnx", "--model", onnx, "--out", Path.Combine(dir, "x.onnx"));
        Assert.Equal(CliRunner.UserErrorExitCode, again.Code);
        Assert.Contains("already ONNX", again.Error);

        // The exported file serves the inference commands in place of the .ffm.
        var image = Crops(TestModels.Small, 1, 3)[0];
        string crop = Path.Combine(dir, "crop.png");
        ImageEncoder.Save(image, crop);
        string Embedding(string m)
        {
            var run = CliHarness.Run("embed", crop, "--model", m, "--aligned", "--json");
            Assert.True(run.Code == 0, run.Error);
            return run.Output;
        }
        var a = JsonDocument.Parse(Embedding(model)).RootElement.EnumerateArray().First().GetProperty("embedding").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var b = JsonDocument.Parse(Embedding(onnx)).RootElement.EnumerateArray().First().GetProperty("embedding").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.True(a.Zip(b, (x, y) => x * y).Sum() >= 0.99999);
    }
}

/// <summary>The LFW open-set identification protocol through the gallery.</summary>
public class LfwOpenSetTests
{
    [SharedFact("data/lfw/landmarks.txt")]
    public void LfwSplitsIntoTheDocumentedCounts()
    {
        var names = Alignment.LandmarksFile.Read(Path.Combine(TestPaths.Shared!, "data/lfw/landmarks.txt")).Keys;
        var split = Evaluation.LfwOpenSetProtocol.SplitImages(names);
        Assert.Equal(1680, split.Enrolled.Count);
        Assert.Equal(4069, split.Unknown.Count);
        Assert.Equal(13233 - 1680 - 4069, split.Mated.Count);
        Assert.Equal("Aaron_Peirsol/Aaron_Peirsol_0001.jpg", split.Enrolled.First(e => e.Person == "Aaron_Peirsol").Image);
        Assert.DoesNotContain(split.Mated, m => m.Image == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
    }

    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void ExactAndHnswSearchAndBothRuntimesGiveTheSameFigures()
    {
        string shared = TestPaths.Shared!, dir = TestPaths.NewTempDirectory("open-set");
        string ffm = Path.Combine(dir, "mfn.ffm"), onnx = Path.Combine(dir, "mfn.onnx"), landmarks = Path.Combine(dir, "landmarks.txt");
        Assert.Equal(0, CliHarness.Run("model", "import", "--from", Path.Combine(shared, "models/mobilefacenet-casia/068.ckpt"), "--arch", "mobilefacenet-casia", "--out", ffm).Code);
        Assert.Equal(0, CliHarness.Run("export", "onnx", "--model", ffm, "--out", onnx).Code);
        // The first 400 images of LFW's landmarks file (AJ_Cook to Alonzo_Mourning), a real open set of its own: 62
        // people enrolled, 192 mated and 146 unknown probes.
        File.WriteAllLines(landmarks, File.ReadLines(Path.Combine(shared, "data/lfw/landmarks.txt")).Take(400));
        JsonElement Run(string model, string index)
        {
            var result = CliHarness.Run("eval", "identify", "--model", model, "--images", Path.Combine(shared, "data/lfw/images"), "--landmarks", landmarks,
                "--protocol", "lfw-open-set", "--index", index, "--json");
            Assert.True(result.Code == 0, result.Error);
            return JsonDocument.Parse(result.Output).RootElement;
        }
        var reference = Run(ffm, "exact");
        Assert.True(reference.GetProperty("rank1").GetDouble() > 0.9, reference.ToString());
        Assert.True(reference.GetProperty("unknown_probes").GetInt32() > 100);
        foreach (var other in new[] { Run(ffm, "hnsw"), Run(onnx, "exact") })
            foreach (string key in new[] { "rank1", "rank5", "dir_at_fpir", "enrolled", "probes", "unknown_probes" })
                Assert.Equal(reference.GetProperty(key).ToString(), other.GetProperty(key).ToString());

        var mixed = CliHarness.Run("eval", "identify", "--model", ffm, "--protocol", "lfw-open-set", "--gallery", dir, "--probes", dir, "--images", dir);
        Assert.Equal(CliRunner.UserErrorExitCode, mixed.Code);
        // The HNSW beam means nothing to an exact search.
        var beamWithoutGraph = CliHarness.Run("eval", "identify", "--model", ffm, "--protocol", "lfw-open-set", "--images", dir, "--ef-search", "128");
        Assert.Equal(CliRunner.UserErrorExitCode, beamWithoutGraph.Code);
        Assert.Contains("--index hnsw", beamWithoutGraph.Error);
    }
}
