using FaceForge.Training.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Backbones;

/// <summary>Convolution without bias, batch norm, and an optional PReLU (fields conv, bn, prelu: PyTorch's names).</summary>
internal sealed class ConvUnit : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv2d conv;
    private readonly BatchNormLayer bn;
    private readonly ChannelPReLU? prelu;

    public ConvUnit(long input, long output, (long, long) kernel, long stride = 1, (long, long) padding = default, long groups = 1, bool activation = true)
        : base(nameof(ConvUnit))
    {
        conv = nn.Conv2d(input, output, kernel, stride: (stride, stride), padding: padding, groups: groups, bias: false);
        bn = BatchNormLayer.Channels(output);
        prelu = activation ? new ChannelPReLU(output) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = bn.call(conv.call(x));
        return prelu is null ? y : prelu.call(y);
    }

    public string ExportOnnx(OnnxGraph graph, string input)
    {
        var y = graph.Scoped("conv", () => graph.Conv(conv, bn, input));
        return prelu is null ? y : graph.Emit(prelu, y, "prelu");
    }
}
