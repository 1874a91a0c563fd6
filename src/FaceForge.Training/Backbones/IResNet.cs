using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using FaceForge.Training.Export;
using FaceForge.Training.Runtime;

namespace FaceForge.Training.Backbones;

/// <summary>
/// IResNet (Deng et al., ArcFace) with arcface_torch's parameter names. Depths differ only in block counts.
/// 112x112 input; The width multiplier scales the four stage widths (1 keeps arcface_torch's shapes).
/// </summary>
internal sealed class IResNet : nn.Module<Tensor, Tensor>, IFeatureMapBackbone, IOnnxBackbone
{
    private static readonly Dictionary<int, int[]> BlockCounts = new()
    {
        [18] = [2, 2, 2, 2], [34] = [3, 4, 6, 3], [50] = [3, 4, 14, 3], [100] = [3, 13, 30, 3],
    };

    private readonly Conv2d conv1;
    private readonly BatchNormLayer bn1;
    private readonly ChannelPReLU prelu;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly BatchNormLayer bn2;
    private readonly Linear fc;
    private readonly BatchNormLayer features;

    public IResNet(int depth, int embeddingSize = 512, double width = 1) : base($"IResNet{depth}")
    {
        if (!BlockCounts.TryGetValue(depth, out var counts))
            throw new ArgumentException($"Unsupported IResNet depth {depth}; known: {string.Join(", ", BlockCounts.Keys)}.", nameof(depth));
        long W(long c) => Math.Max(8, (long)Math.Round(c * width / 8) * 8);
        long inplanes = W(64);
        conv1 = nn.Conv2d(3, inplanes, 3, stride: 1, padding: 1, bias: false);
        bn1 = BatchNormLayer.Channels(inplanes, eps: 1e-5);
        prelu = new ChannelPReLU(inplanes);
        Sequential Layer(long planes, int blocks)
        {
            var list = new List<nn.Module<Tensor, Tensor>> { new Block(inplanes, planes, 2) };
            inplanes = planes;
            for (int i = 1; i < blocks; i++) list.Add(new Block(planes, planes, 1));
            return nn.Sequential(list);
        }
        layer1 = Layer(W(64), counts[0]);
        layer2 = Layer(W(128), counts[1]);
        layer3 = Layer(W(256), counts[2]);
        layer4 = Layer(W(512), counts[3]);
        bn2 = BatchNormLayer.Channels(inplanes, eps: 1e-5);
        fc = nn.Linear(inplanes * 7 * 7, embeddingSize);
        features = BatchNormLayer.Features(embeddingSize, eps: 1e-5);
        RegisterComponents();
        BackboneInit.Kaiming(this);
        features.weight!.requires_grad = false; // arcface_torch fixes the embedding BN scale at 1
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return Embed(FeatureMap(x)).MoveToOuterDisposeScope();
    }

    public Tensor FeatureMap(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var y = prelu.call(bn1.call(conv1.call(input)));
        return bn2.call(layer4.call(layer3.call(layer2.call(layer1.call(y))))).MoveToOuterDisposeScope();
    }

    public Tensor Embed(Tensor featureMap)
    {
        using var scope = torch.NewDisposeScope();
        return features.call(fc.call(featureMap.flatten(1))).MoveToOuterDisposeScope();
    }

    public string ExportFeatureMap(OnnxGraph graph, string input)
    {
        var x = graph.Emit(prelu, graph.Scoped("conv1", () => graph.Conv(conv1, bn1, input)), "prelu");
        x = graph.Emit(layer4, graph.Emit(layer3, graph.Emit(layer2, graph.Emit(layer1, x, "layer1"), "layer2"), "layer3"), "layer4");
        return graph.Scoped("bn2", () => graph.BatchNorm(bn2, x));
    }

    public string ExportEmbed(OnnxGraph graph, string featureMap)
    {
        var x = graph.Node("Flatten", [featureMap], OnnxGraph.Ints("axis", 1));
        return graph.Scoped("fc", () => graph.Gemm(fc, features, x));
    }

    private sealed class Block : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly BatchNormLayer bn1, bn2, bn3;
        private readonly Conv2d conv1, conv2;
        private readonly ChannelPReLU prelu;
        private readonly Sequential? downsample;

        public Block(long inplanes, long planes, long stride) : base("IBasicBlock")
        {
            bn1 = BatchNormLayer.Channels(inplanes, eps: 1e-5);
            conv1 = nn.Conv2d(inplanes, planes, 3, padding: 1, bias: false);
            bn2 = BatchNormLayer.Channels(planes, eps: 1e-5);
            prelu = new ChannelPReLU(planes);
            conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
            bn3 = BatchNormLayer.Channels(planes, eps: 1e-5);
            if (stride != 1 || inplanes != planes)
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride: stride, bias: false), BatchNormLayer.Channels(planes, eps: 1e-5));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var y = bn3.call(conv2.call(prelu.call(bn2.call(conv1.call(bn1.call(x))))));
            return TensorSum.Add(y, downsample is null ? x : downsample.call(x));
        }

        public string ExportOnnx(OnnxGraph graph, string input)
        {
            var y = graph.Scoped("bn1", () => graph.BatchNorm(bn1, input));
            y = graph.Emit(prelu, graph.Scoped("conv1", () => graph.Conv(conv1, bn2, y)), "prelu");
            y = graph.Scoped("conv2", () => graph.Conv(conv2, bn3, y));
            return graph.Node("Add", [y, downsample is null ? input : graph.Emit(downsample, input, "downsample")]);
        }
    }
}
