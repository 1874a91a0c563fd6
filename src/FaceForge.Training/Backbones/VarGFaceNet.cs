using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using FaceForge.Training.Export;
using FaceForge.Training.Runtime;

namespace FaceForge.Training.Backbones;

/// <summary>
/// VarGFaceNet (Yan et al., arXiv 1910.04985) for 112x112 input, built from variable-group separable units whose
/// groups hold a fixed 8 channels, so the group count grows with width. Head: 3x3 conv (40) and a stride-2 block;
/// three stages of a down-sampling block plus 2, 6 and 3 normal blocks (80, 160, 320 channels) with sigmoid-gated
/// SE; embedding block 1x1 to 1024, 7x7 variable-group conv, 1x1 to 512, FC and BN. Unlike the review's listing
/// this uses a sigmoid SE gate, a 7x7 (not 7x6) kernel and keeps the final BN.
/// The width multiplier scales all channel counts (multiples of 8) for small runs.
/// </summary>
internal sealed class VarGFaceNet : nn.Module<Tensor, Tensor>, IFeatureMapBackbone, IOnnxBackbone
{
    private const int ChannelsPerGroup = 8;

    private readonly Sequential stem;
    private readonly Sequential stages;
    private readonly Sequential embedding;

    public VarGFaceNet(int embeddingSize = 512, double width = 1) : base(nameof(VarGFaceNet))
    {
        long W(long c) => Math.Max(ChannelsPerGroup, (long)Math.Round(c * width / ChannelsPerGroup) * ChannelsPerGroup);
        long c40 = W(40), c80 = W(80), c160 = W(160), c320 = W(320), c1024 = W(1024), c512 = W(512);
        stem = nn.Sequential(nn.Conv2d(3, c40, 3, padding: 1, bias: false), BatchNormLayer.Channels(c40), new ChannelPReLU(c40), new DownBlock(c40, c40));
        var blocks = new List<nn.Module<Tensor, Tensor>>();
        foreach (var (input, output, normal) in new[] { (c40, c80, 2), (c80, c160, 6), (c160, c320, 3) })
        {
            blocks.Add(new DownBlock(input, output));
            for (int i = 0; i < normal; i++) blocks.Add(new NormalBlock(output));
        }
        stages = nn.Sequential(blocks);
        embedding = nn.Sequential(
            nn.Conv2d(c320, c1024, 1, bias: false), BatchNormLayer.Channels(c1024), new ChannelPReLU(c1024),
            nn.Conv2d(c1024, c1024, 7, groups: c1024 / ChannelsPerGroup, bias: false), BatchNormLayer.Channels(c1024),
            nn.Conv2d(c1024, c512, 1, bias: false), BatchNormLayer.Channels(c512), new ChannelPReLU(c512),
            nn.Flatten(), nn.Linear(c512, embeddingSize), BatchNormLayer.Features(embeddingSize));
        RegisterComponents();
        BackboneInit.Kaiming(this);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return Embed(FeatureMap(x)).MoveToOuterDisposeScope();
    }

    public Tensor FeatureMap(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        return stages.call(stem.call(input)).MoveToOuterDisposeScope();
    }

    public Tensor Embed(Tensor featureMap) => embedding.call(featureMap);

    public string ExportFeatureMap(OnnxGraph graph, string input) => graph.Emit(stages, graph.Emit(stem, input, "stem"), "stages");

    public string ExportEmbed(OnnxGraph graph, string featureMap) => graph.Emit(embedding, featureMap, "embedding");

    /// <summary>3x3 variable-group conv (C to 2C, 8 channels per group), BN, PReLU, 1x1 conv to the output, BN, optional PReLU.</summary>
    private sealed class SeparableUnit : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential body;

        public SeparableUnit(long input, long output, long stride, bool activation) : base(nameof(SeparableUnit))
        {
            var layers = new List<nn.Module<Tensor, Tensor>>
            {
                nn.Conv2d(input, 2 * input, 3, stride: stride, padding: 1, groups: input / ChannelsPerGroup, bias: false), BatchNormLayer.Channels(2 * input), new ChannelPReLU(2 * input),
                nn.Conv2d(2 * input, output, 1, bias: false), BatchNormLayer.Channels(output),
            };
            if (activation) layers.Add(new ChannelPReLU(output));
            body = nn.Sequential(layers);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => body.call(x);

        public string ExportOnnx(OnnxGraph graph, string input) => graph.Emit(body, input, "body");
    }

    private sealed class SqueezeExcitation : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential gate;

        public SqueezeExcitation(long channels) : base(nameof(SqueezeExcitation))
        {
            gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels / 4, 1), nn.ReLU(), nn.Conv2d(channels / 4, channels, 1), nn.Sigmoid());
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => x * gate.call(x);

        public string ExportOnnx(OnnxGraph graph, string input) => graph.Node("Mul", [input, graph.Emit(gate, input, "gate")]);
    }

    private sealed class NormalBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly SeparableUnit unit1, unit2;
        private readonly SqueezeExcitation se;
        private readonly ChannelPReLU prelu;

        public NormalBlock(long channels) : base(nameof(NormalBlock))
        {
            unit1 = new SeparableUnit(channels, channels, 1, true);
            unit2 = new SeparableUnit(channels, channels, 1, false);
            se = new SqueezeExcitation(channels);
            prelu = new ChannelPReLU(channels);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => prelu.call(TensorSum.Add(se.call(unit2.call(unit1.call(x))), x));

        public string ExportOnnx(OnnxGraph graph, string input)
        {
            var y = graph.Emit(se, graph.Emit(unit2, graph.Emit(unit1, input, "unit1"), "unit2"), "se");
            return graph.Emit(prelu, graph.Node("Add", [y, input]), "prelu");
        }
    }

    /// <summary>Two stride-2 branches summed, a further unit, plus a stride-2 shortcut unit.</summary>
    private sealed class DownBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly SeparableUnit branch1, branch2, merge, shortcut;
        private readonly ChannelPReLU prelu;

        public DownBlock(long input, long output) : base(nameof(DownBlock))
        {
            branch1 = new SeparableUnit(input, output, 2, true);
            branch2 = new SeparableUnit(input, output, 2, true);
            merge = new SeparableUnit(output, output, 1, false);
            shortcut = new SeparableUnit(input, output, 2, false);
            prelu = new ChannelPReLU(output);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => prelu.call(TensorSum.Add(merge.call(TensorSum.Add(branch1.call(x), branch2.call(x))), shortcut.call(x)));

        public string ExportOnnx(OnnxGraph graph, string input)
        {
            var branches = graph.Node("Add", [graph.Emit(branch1, input, "branch1"), graph.Emit(branch2, input, "branch2")]);
            var y = graph.Node("Add", [graph.Emit(merge, branches, "merge"), graph.Emit(shortcut, input, "shortcut")]);
            return graph.Emit(prelu, y, "prelu");
        }
    }
}
