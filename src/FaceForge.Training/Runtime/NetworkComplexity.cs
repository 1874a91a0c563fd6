using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Parameters and multiply-adds of a network, counted from the network itself: one forward pass of a single
/// input with hooks on every convolution and linear layer (multiply-adds = output elements x input channels per
/// group x kernel area, or x input features); normalisation and activations are not counted, as usual.
/// </summary>
public static class NetworkComplexity
{
    /// <summary>Counts <paramref name="network"/> for a 1 x 3 x <paramref name="height"/> x <paramref name="width"/> input run through <paramref name="forward"/>.</summary>
    public static (long Parameters, long MultiplyAdds) Measure(nn.Module network, int width, int height, Action<Tensor> forward)
    {
        long parameters = network.parameters().Sum(p => p.numel());
        long macs = 0;
        var hooks = new List<Action>();
        foreach (var (_, module) in network.named_modules())
        {
            if (module is Conv2d conv)
                hooks.Add(conv.register_forward_hook((_, _, output) => { macs += output.numel() * (conv.in_channels / conv.groups) * conv.kernel_size.Aggregate(1L, (a, b) => a * b); return output; }).remove);
            else if (module is Linear linear)
                hooks.Add(linear.register_forward_hook((_, _, output) => { macs += output.numel() * linear.in_features; return output; }).remove);
        }
        try
        {
            network.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            forward(zeros(1, 3, height, width));
        }
        finally
        {
            foreach (var remove in hooks) remove();
        }
        return (parameters, macs);
    }
}
