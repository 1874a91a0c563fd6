using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using FaceForge.Training.Export;
using FaceForge.Training.Runtime;

namespace FaceForge.Training.Backbones;

/// <summary>
/// MobileFaceNet in arcface_torch's layout (backbones/mobilefacenet.py, blocks (1, 4, 6, 2), scale 2), with the same
/// state-dict names (layers.N…, conv_sep…, features…). 112x112 input, GDC head to the embedding.
/// The width multiplier scales every channel count for small runs (1 keeps arcface_torch's shapes).
/// </summary>
internal sealed class MobileFaceNet : nn.Module<Tensor, Tensor>, IFeatureMapBackbone, IOnnxBackbone
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
    private readonly Block conv_sep;
    private readonly Sequential features;

    public MobileFaceNet(int embeddingSize = 512, double width = 1, int[]? blocks = null) : base(nameof(MobileFaceNet))
    {
        blocks ??= [1, 4, 6, 2];
        long W(long c) => Math.Max(8, (long)Math.Round(c * width / 8) * 8);
        long c64 = W(128), c128 = W(256);
        layers = nn.ModuleList<nn.Module<Tensor, Tensor>>();
        layers.Add(new Block(3, c64, 3, 2, 1, 1, true));
        layers.Add(blocks[0] == 1 ? new Block(c64, c64, 3, 1, 1, W(64), true) : new Residual(c64, blocks[0], W(128)));
        layers.Add(new DepthWise(c64, c64, false, 2, W(128)));
        layers.Add(new Residual(c64, blocks[1], W(128)));
        layers.Add(new DepthWise(c64, c128, false, 2, W(256)));
        layers.Add(new Residual(c128, blocks[2], W(256)));
        layers.Add(new DepthWise(c128, c128, false, 2, W(512)));
        layers.Add(new Residual(c128, blocks[3], W(256)));
        conv_sep = new Block(c128, 512, 1, 1, 0, 1, true);
        features = nn.Sequential(new Block(512, 512, 7, 1, 0, 512, false), nn.Flatten(), nn.Linear(512, embeddingSize, hasBias: false), BatchNormLayer.Features(embeddingSize));
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
        foreach (var layer in layers) input = layer.call(input);
        return conv_sep.call(input).MoveToOuterDisposeScope();
    }

    public Tensor Embed(Tensor featureMap) => features.call(featureMap);

    public string ExportFeatureMap(OnnxGraph graph, string input)
    {
        int i = 0;
        foreach (var layer in layers) input = graph.Emit(layer, input, $"layers.{i++}");
        return graph.Emit(conv_sep, input, "conv_sep");
    }

    public string ExportEmbed(OnnxGraph graph, string featureMap) => graph.Emit(features, featureMap, "features");

    /// <summary>Conv, BN and optionally PReLU in a Sequential named "layers" (arcface_torch's ConvBlock / LinearBlock).</summary>
    private sealed class Block : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential layers;

        public Block(long input, long output, long kernel, long stride, long padding, long groups, bool activation) : base("ConvBlock")
        {
            var modules = new List<nn.Module<Tensor, Tensor>>
            {
                nn.Conv2d(input, output, kernel, stride: stride, padding: padding, groups: groups, bias: false),
                BatchNormLayer.Channels(output),
            };
            if (activation) modules.Add(new ChannelPReLU(output));
            layers = nn.Sequential(modules);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => layers.call(x);

        public string ExportOnnx(OnnxGraph graph, string input) => graph.Emit(layers, input, "layers");
    }

    private sealed class DepthWise : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential layers;
        private readonly bool _residual;

        public DepthWise(long input, long output, bool residual, long stride, long hidden) : base(nameof(DepthWise))
        {
            _residual = residual;
            layers = nn.Sequential(new Block(input, hidden, 1, 1, 0, 1, true), new Block(hidden, hidden, 3, stride, 1, hidden, true), new Block(hidden, output, 1, 1, 0, 1, false));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => _residual ? TensorSum.Add(x, layers.call(x)) : layers.call(x);

        public string ExportOnnx(OnnxGraph graph, string input)
        {
            var y = graph.Emit(layers, input, "layers");
            return _residual ? graph.Node("Add", [input, y]) : y;
        }
    }

    private sealed class Residual : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential layers;

        public Residual(long channels, int count, long hidden) : base(nameof(Residual))
        {
            layers = nn.Sequential(Enumerable.Range(0, count).Select(_ => (nn.Module<Tensor, Tensor>)new DepthWise(channels, channels, true, 1, hidden)).ToArray());
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => layers.call(x);

        public string ExportOnnx(OnnxGraph graph, string input) => graph.Emit(layers, input, "layers");
    }
}
