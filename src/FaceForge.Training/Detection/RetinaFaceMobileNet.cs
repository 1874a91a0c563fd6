using FaceForge.Training.Backbones;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using FaceForge.Training.Export;
using FaceForge.Training.Runtime;

namespace FaceForge.Training.Detection;

/// <summary>What a RetinaFace-style network predicts for every anchor of a batch.</summary>
/// <param name="Boxes">B x N x 4 box offsets.</param>
/// <param name="Logits">B x N x 2 class logits (background, face).</param>
/// <param name="Landmarks">B x N x 10 landmark offsets.</param>
public sealed record DetectionOutput(Tensor Boxes, Tensor Logits, Tensor Landmarks);

/// <summary>
/// RetinaFace with a MobileNet-0.25 body, FPN and SSH context modules (Deng et al., arXiv 1905.00641), in the
/// layout of biubug6/Face-Detector-1MB-with-landmark, whose weights are ../shared/models/retinaface-mnet025:
/// parameter names match that checkpoint. Input: BGR pixels minus (104, 117, 123), any size.
/// </summary>
/// <remarks>
/// <see cref="Features"/> and <see cref="Heads"/> are separate so that the occlusion-aware detector can work on the
/// features in between. Not thread-safe (one forward at a time).
/// </remarks>
public sealed class RetinaFaceMobileNet : nn.Module<Tensor, DetectionOutput>
{
    /// <summary>Channels of each SSH feature map.</summary>
    public const int FeatureChannels = 64;

    private readonly MobileNetBody body;
    private readonly Fpn fpn;
    private readonly Ssh ssh1, ssh2, ssh3;
    private readonly ModuleList<HeadConv> ClassHead, BboxHead, LandmarkHead;

    /// <summary>Creates the network with <paramref name="anchors"/> anchors per cell.</summary>
    public RetinaFaceMobileNet(int anchors = 2) : base(nameof(RetinaFaceMobileNet))
    {
        body = new MobileNetBody();
        fpn = new Fpn([64, 128, 256], FeatureChannels);
        ssh1 = new Ssh(FeatureChannels, FeatureChannels);
        ssh2 = new Ssh(FeatureChannels, FeatureChannels);
        ssh3 = new Ssh(FeatureChannels, FeatureChannels);
        ClassHead = new ModuleList<HeadConv>([.. Enumerable.Range(0, 3).Select(_ => new HeadConv(FeatureChannels, anchors * 2))]);
        BboxHead = new ModuleList<HeadConv>([.. Enumerable.Range(0, 3).Select(_ => new HeadConv(FeatureChannels, anchors * 4))]);
        LandmarkHead = new ModuleList<HeadConv>([.. Enumerable.Range(0, 3).Select(_ => new HeadConv(FeatureChannels, anchors * 10))]);
        RegisterComponents();
    }

    /// <summary>The three SSH feature maps (strides 8, 16, 32), each B x 64 x H/s x W/s.</summary>
    public Tensor[] Features(Tensor input) => Context(Body(input));

    /// <summary>The MobileNet body's three outputs (strides 8, 16, 32; 64, 128, 256 channels).</summary>
    public Tensor[] Body(Tensor input)
    {
        var (c3, c4, c5) = body.call(input);
        return [c3, c4, c5];
    }

    /// <summary>FPN and SSH context modules over <see cref="Body"/>'s outputs: the maps the heads read.</summary>
    public Tensor[] Context(IReadOnlyList<Tensor> bodyOutputs)
    {
        var (p3, p4, p5) = fpn.call(bodyOutputs[0], bodyOutputs[1], bodyOutputs[2]);
        return [ssh1.call(p3), ssh2.call(p4), ssh3.call(p5)];
    }

    /// <summary>The per-anchor predictions from <see cref="Features"/>' maps.</summary>
    public DetectionOutput Heads(IReadOnlyList<Tensor> features) => new(
        torch.cat(features.Select((f, i) => Flatten(BboxHead[i].call(f), 4)).ToArray(), 1),
        torch.cat(features.Select((f, i) => Flatten(ClassHead[i].call(f), 2)).ToArray(), 1),
        torch.cat(features.Select((f, i) => Flatten(LandmarkHead[i].call(f), 10)).ToArray(), 1));

    /// <inheritdoc/>
    public override DetectionOutput forward(Tensor input) => Heads(Features(input));

    /// <summary>
    /// The network in ONNX: per-anchor box offsets, face/background probabilities (softmax of the logits) and
    /// landmark offsets, in the order of the forward outputs; also the SSH feature maps.
    /// </summary>
    internal (string Boxes, string Scores, string Landmarks, string[] Features) ExportOnnx(OnnxGraph graph, string input)
    {
        var (c3, c4, c5) = graph.Scoped("body", () => body.ExportOnnx(graph, input));
        var (p3, p4, p5) = graph.Scoped("fpn", () => fpn.ExportOnnx(graph, c3, c4, c5));
        string[] features = [graph.Emit(ssh1, p3, "ssh1"), graph.Emit(ssh2, p4, "ssh2"), graph.Emit(ssh3, p5, "ssh3")];
        // Flatten as the C# forward does: B x (A*k) x H x W -> B x (H*W*A) x k, levels one after the other.
        string Head(ModuleList<HeadConv> heads, string name, int k) => graph.Node("Concat",
            features.Select((f, i) => graph.Node("Reshape", [graph.Node("Transpose", [graph.Emit(heads[i], f, $"{name}.{i}")], OnnxGraph.Ints("perm", 0, 2, 3, 1)), graph.Int64Constant("shape", 0, -1, k)])).ToArray(),
            OnnxGraph.Ints("axis", 1));
        var scores = graph.Node("Softmax", [Head(ClassHead, nameof(ClassHead), 2)], OnnxGraph.Ints("axis", -1));
        return (Head(BboxHead, nameof(BboxHead), 4), scores, Head(LandmarkHead, nameof(LandmarkHead), 10), features);
    }

    /// <summary>
    /// The parts left as initialised when fine-tuning only <paramref name="trainable"/>: nothing for "all", the
    /// MobileNet body for "context", everything but the score heads for "score-heads" (boxes and landmarks then stay
    /// exactly the init model's at every anchor), everything but the score and box heads for "score-box-heads"
    /// (landmarks stay the init model's; boxes learn the whole face where an occluder hides part of it).
    /// </summary>
    internal IEnumerable<nn.Module> FrozenParts(string trainable) => trainable switch
    {
        "all" => [],
        "context" => [body],
        "score-heads" => [body, fpn, ssh1, ssh2, ssh3, BboxHead, LandmarkHead],
        "score-box-heads" => [body, fpn, ssh1, ssh2, ssh3, LandmarkHead],
        _ => throw new ArgumentException($"Unknown trainable part '{trainable}': all, context, score-heads or score-box-heads.", nameof(trainable)),
    };

    // B x (A*k) x H x W -> B x (H*W*A) x k, in the order of the priors (row, column, anchor).
    private static Tensor Flatten(Tensor x, int k) => x.permute(0, 2, 3, 1).contiguous().view(x.shape[0], -1, k);

    // Plain ReLU throughout: the 1MB repository's variant, unlike Pytorch_Retinaface's leaky one (its weights need it).
    internal static Sequential ConvBn(long input, long output, long stride = 1, bool relu = true, long kernel = 3) =>
        relu
            ? nn.Sequential(nn.Conv2d(input, output, kernel, stride, kernel / 2, bias: false), BatchNormLayer.Channels(output), nn.ReLU())
            : nn.Sequential(nn.Conv2d(input, output, kernel, stride, kernel / 2, bias: false), BatchNormLayer.Channels(output));

    private static Sequential ConvDw(long input, long output, long stride) => nn.Sequential(
        nn.Conv2d(input, input, 3, stride, 1, groups: input, bias: false), BatchNormLayer.Channels(input), nn.ReLU(),
        nn.Conv2d(input, output, 1, 1, 0, bias: false), BatchNormLayer.Channels(output), nn.ReLU());

    private sealed class MobileNetBody : nn.Module<Tensor, (Tensor, Tensor, Tensor)>
    {
        private readonly Sequential stage1, stage2, stage3;

        public MobileNetBody() : base(nameof(MobileNetBody))
        {
            stage1 = nn.Sequential(ConvBn(3, 8, 2), ConvDw(8, 16, 1), ConvDw(16, 32, 2), ConvDw(32, 32, 1), ConvDw(32, 64, 2), ConvDw(64, 64, 1));
            stage2 = nn.Sequential(ConvDw(64, 128, 2), ConvDw(128, 128, 1), ConvDw(128, 128, 1), ConvDw(128, 128, 1), ConvDw(128, 128, 1), ConvDw(128, 128, 1));
            stage3 = nn.Sequential(ConvDw(128, 256, 2), ConvDw(256, 256, 1));
            RegisterComponents();
        }

        public (string, string, string) ExportOnnx(OnnxGraph graph, string input)
        {
            var c3 = graph.Emit(stage1, input, "stage1");
            var c4 = graph.Emit(stage2, c3, "stage2");
            return (c3, c4, graph.Emit(stage3, c4, "stage3"));
        }

        public override (Tensor, Tensor, Tensor) forward(Tensor x)
        {
            var c3 = stage1.call(x);
            var c4 = stage2.call(c3);
            return (c3, c4, stage3.call(c4));
        }
    }

    private sealed class Fpn : nn.Module<Tensor, Tensor, Tensor, (Tensor, Tensor, Tensor)>
    {
        private readonly Sequential output1, output2, output3, merge1, merge2;

        public Fpn(long[] inputs, long channels) : base(nameof(Fpn))
        {
            output1 = ConvBn(inputs[0], channels, kernel: 1);
            output2 = ConvBn(inputs[1], channels, kernel: 1);
            output3 = ConvBn(inputs[2], channels, kernel: 1);
            merge1 = ConvBn(channels, channels);
            merge2 = ConvBn(channels, channels);
            RegisterComponents();
        }

        public (string, string, string) ExportOnnx(OnnxGraph graph, string c3, string c4, string c5)
        {
            var o3 = graph.Emit(output3, c5, "output3");
            var o2 = graph.Emit(merge2, graph.Node("Add", [graph.Emit(output2, c4, "output2"), Upsample(graph, o3, c4)]), "merge2");
            var o1 = graph.Emit(merge1, graph.Node("Add", [graph.Emit(output1, c3, "output1"), Upsample(graph, o2, c3)]), "merge1");
            return (o1, o2, o3);
        }

        // Nearest-neighbour resize of x to like's height and width; "asymmetric" + "floor" is PyTorch's nearest.
        private static string Upsample(OnnxGraph graph, string x, string like)
        {
            string Dims(string t, long from, long to) => graph.Node("Slice", [graph.Node("Shape", [t]), graph.Int64Constant("starts", from), graph.Int64Constant("ends", to)]);
            var sizes = graph.Node("Concat", [Dims(x, 0, 2), Dims(like, 2, 4)], OnnxGraph.Ints("axis", 0));
            return graph.Node("Resize", [x, "", "", sizes],
                OnnxGraph.String("mode", "nearest"), OnnxGraph.String("coordinate_transformation_mode", "asymmetric"), OnnxGraph.String("nearest_mode", "floor"));
        }

        public override (Tensor, Tensor, Tensor) forward(Tensor c3, Tensor c4, Tensor c5)
        {
            var o3 = output3.call(c5);
            var o2 = merge2.call(TensorSum.Add(output2.call(c4), nn.functional.interpolate(o3, [c4.shape[2], c4.shape[3]], mode: InterpolationMode.Nearest)));
            var o1 = merge1.call(TensorSum.Add(output1.call(c3), nn.functional.interpolate(o2, [c3.shape[2], c3.shape[3]], mode: InterpolationMode.Nearest)));
            return (o1, o2, o3);
        }
    }

    private sealed class Ssh : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential conv3X3, conv5X5_1, conv5X5_2, conv7X7_2, conv7x7_3;

        public Ssh(long input, long output) : base(nameof(Ssh))
        {
            conv3X3 = ConvBn(input, output / 2, relu: false);
            conv5X5_1 = ConvBn(input, output / 4);
            conv5X5_2 = ConvBn(output / 4, output / 4, relu: false);
            conv7X7_2 = ConvBn(output / 4, output / 4);
            conv7x7_3 = ConvBn(output / 4, output / 4, relu: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var branch5 = conv5X5_1.call(x);
            var branch7 = conv7X7_2.call(branch5);
            return nn.functional.relu(torch.cat([conv3X3.call(x), conv5X5_2.call(branch5), conv7x7_3.call(branch7)], 1));
        }

        public string ExportOnnx(OnnxGraph graph, string input)
        {
            var branch5 = graph.Emit(conv5X5_1, input, "conv5X5_1");
            var branch7 = graph.Emit(conv7X7_2, branch5, "conv7X7_2");
            var joined = graph.Node("Concat", [graph.Emit(conv3X3, input, "conv3X3"), graph.Emit(conv5X5_2, branch5, "conv5X5_2"), graph.Emit(conv7x7_3, branch7, "conv7x7_3")], OnnxGraph.Ints("axis", 1));
            return graph.Node("Relu", [joined]);
        }
    }

    private sealed class HeadConv : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv1x1;

        public HeadConv(long input, long output) : base(nameof(HeadConv))
        {
            conv1x1 = nn.Conv2d(input, output, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => conv1x1.call(x);

        public string ExportOnnx(OnnxGraph graph, string input) => graph.Emit(conv1x1, input, "conv1x1");
    }
}
