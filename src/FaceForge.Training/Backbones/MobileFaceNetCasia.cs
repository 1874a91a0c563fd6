using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using FaceForge.Training.Export;
using FaceForge.Training.Runtime;

namespace FaceForge.Training.Backbones;

/// <summary>
/// MobileFaceNet (Chen et al., 2018, arXiv 1804.07573) in the 112x96 layout of Xiaoccer/MobileFaceNet_Pytorch,
/// whose CASIA-WebFace weights are ../shared/models/mobilefacenet-casia: parameter names match that checkpoint.
/// Input 3x112x96, (x - 127.5)/128, SphereFace alignment; output a 128-d embedding.
/// </summary>
internal sealed class MobileFaceNetCasia : nn.Module<Tensor, Tensor>, IFeatureMapBackbone, IOnnxBackbone
{
    // (expansion, output channels, repeats, first stride), as in the paper's table 1.
    private static readonly (int T, int C, int N, int S)[] Settings = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)];

    private readonly ConvUnit conv1;
    private readonly ConvUnit dw_conv1;
    private readonly Sequential blocks;
    private readonly ConvUnit conv2;
    private readonly ConvUnit linear7;
    private readonly ConvUnit linear1;

    public MobileFaceNetCasia(int embeddingSize = 128) : base(nameof(MobileFaceNetCasia))
    {
        conv1 = new ConvUnit(3, 64, (3, 3), 2, (1, 1));
        dw_conv1 = new ConvUnit(64, 64, (3, 3), 1, (1, 1), groups: 64);
        var layers = new List<nn.Module<Tensor, Tensor>>();
        long input = 64;
        foreach (var (t, c, n, s) in Settings)
        {
            for (int i = 0; i < n; i++)
            {
                layers.Add(new InvertedResidual(input, c, i == 0 ? s : 1, t));
                input = c;
            }
        }
        blocks = nn.Sequential(layers);
        conv2 = new ConvUnit(128, 512, (1, 1));
        linear7 = new ConvUnit(512, 512, (7, 6), groups: 512, activation: false);
        linear1 = new ConvUnit(512, embeddingSize, (1, 1), activation: false);
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
        return conv2.call(blocks.call(dw_conv1.call(conv1.call(input)))).MoveToOuterDisposeScope();
    }

    public Tensor Embed(Tensor featureMap)
    {
        using var scope = torch.NewDisposeScope();
        return linear1.call(linear7.call(featureMap)).flatten(1).MoveToOuterDisposeScope();
    }

    public string ExportFeatureMap(OnnxGraph graph, string input)
    {
        var x = graph.Emit(conv1, input, "conv1");
        x = graph.Emit(dw_conv1, x, "dw_conv1");
        x = graph.Emit(blocks, x, "blocks");
        return graph.Emit(conv2, x, "conv2");
    }

    public string ExportEmbed(OnnxGraph graph, string featureMap)
    {
        var x = graph.Emit(linear1, graph.Emit(linear7, featureMap, "linear7"), "linear1");
        return graph.Node("Flatten", [x], OnnxGraph.Ints("axis", 1));
    }

    /// <summary>MobileNetV2 bottleneck: 1x1 expand, 3x3 depthwise, 1x1 linear project (fields: conv.0 … conv.7).</summary>
    private sealed class InvertedResidual : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential conv;
        private readonly bool _residual;

        public InvertedResidual(long input, long output, long stride, long expansion) : base(nameof(InvertedResidual))
        {
            long hidden = input * expansion;
            _residual = stride == 1 && input == output;
            conv = nn.Sequential(
                nn.Conv2d(input, hidden, 1, bias: false), BatchNormLayer.Channels(hidden), new ChannelPReLU(hidden),
                nn.Conv2d(hidden, hidden, 3, stride: stride, padding: 1, groups: hidden, bias: false), BatchNormLayer.Channels(hidden), new ChannelPReLU(hidden),
                nn.Conv2d(hidden, output, 1, bias: false), BatchNormLayer.Channels(output));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => _residual ? TensorSum.Add(x, conv.call(x)) : conv.call(x);

        public string ExportOnnx(OnnxGraph graph, string input)
        {
            var y = graph.Emit(conv, input, "conv");
            return _residual ? graph.Node("Add", [input, y]) : y;
        }
    }
}
