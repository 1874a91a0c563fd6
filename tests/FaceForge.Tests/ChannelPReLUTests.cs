using FaceForge.Training.Backbones;
using FaceForge.Training.Runtime;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

/// <summary>The PReLU with a managed backward against libtorch's PReLU.</summary>
public class ChannelPReLUTests
{
    // Channel counts below, at and above a vector's lanes and not multiples of them; maps whose element count is and is
    // not a whole number of periods (C x lanes), so both the vector loop and the scalar tail run; both layouts.
    [Theory]
    [InlineData(1, 2, 3, 5, 5, false)]
    [InlineData(2, 10, 7, 7, 7, true)]
    [InlineData(3, 16, 4, 6, 6, true)]
    [InlineData(4, 40, 2, 9, 11, false)]
    [InlineData(5, 3, 64, 28, 28, true)]
    public void GradientsEqualLibTorchsPReLU(int seed, int channels, int batch, int height, int width, bool channelsLast)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(seed);
        var input = torch.randn(batch, channels, height, width);
        if (channelsLast) input = ChannelsLast.From(input);
        var slopes = torch.rand(channels) * 0.5 - 0.1; // some negative, as trained slopes can be
        var upstream = torch.randn(batch, channels, height, width);

        using var prelu = new ChannelPReLU(channels);
        using (torch.no_grad()) prelu.Weight.copy_(slopes);
        var x1 = input.detach().clone().requires_grad_(true);
        var y1 = prelu.call(x1);
        Assert.True(ChannelPReLU.LastNodeReleasedOutputCache(), "TorchSharp's zero-gradient template of the output was not released");
        (y1 * upstream).sum().backward();

        var x2 = input.detach().clone().requires_grad_(true);
        var w2 = slopes.detach().clone().requires_grad_(true);
        var y2 = nn.functional.prelu(x2, w2);
        (y2 * upstream).sum().backward();

        Assert.True(Same(y1, y2), "forward differs from libtorch's");
        Assert.True(Same(x1.grad!, x2.grad!), "input gradient differs from libtorch's");
        // The slope gradient is a sum over N x H x W terms in another order: equal to float rounding, checked against a
        // double-precision reference too.
        var reference = (upstream.to(ScalarType.Float64) * input.to(ScalarType.Float64) * (input <= 0)).sum([0, 2, 3]);
        Assert.True(torch.allclose(prelu.Weight.grad!.to(ScalarType.Float64), reference, rtol: 1e-5, atol: 1e-5), $"slope gradient {prelu.Weight.grad!.str()} vs {reference.str()}");
        Assert.True(torch.allclose(w2.grad!.to(ScalarType.Float64), reference, rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void TheBackwardKernelGivesTheSameBitsOnAnyThreadCount()
    {
        var random = new Random(7);
        const int channels = 24, rows = 5_003; // many blocks of 64 periods, and a tail
        float[] x = new float[channels * rows], grad = new float[x.Length], slopes = new float[channels];
        for (int i = 0; i < x.Length; i++) { x[i] = (float)(random.NextDouble() * 2 - 1); grad[i] = (float)(random.NextDouble() * 2 - 1); }
        for (int i = 0; i < channels; i++) slopes[i] = (float)random.NextDouble() * 0.3f;
        float[] dx1 = new float[x.Length], dx4 = new float[x.Length];
        double[] da1 = new double[channels], da4 = new double[channels];
        ChannelPReLU.Backward(x, grad, slopes, dx1, da1, threads: 1);
        ChannelPReLU.Backward(x, grad, slopes, dx4, da4, threads: 4);
        Assert.Equal(dx1, dx4);
        Assert.Equal(da1, da4);
        for (int c = 0; c < channels; c++)
        {
            double expected = 0;
            for (int r = 0; r < rows; r++) if (x[r * channels + c] <= 0) expected += (double)x[r * channels + c] * grad[r * channels + c];
            Assert.True(Math.Abs(expected - da1[c]) <= 1e-3, $"channel {c}: {da1[c]} vs {expected}");
        }
    }

    [Fact]
    public void FrozenOrEvaluationPassesAreLibTorchsOwn()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(0);
        using var prelu = new ChannelPReLU(6);
        var x = torch.randn(2, 6, 4, 4);
        using (torch.no_grad()) Assert.True(Same(prelu.call(x), nn.functional.prelu(x, prelu.Weight)));
        // A 2-d input (after a linear layer) goes to libtorch.
        var flat = torch.randn(3, 6, requires_grad: true);
        prelu.call(flat).sum().backward();
        Assert.Equal([3L, 6L], flat.grad!.shape);
        Assert.Equal([6L], prelu.Weight.grad!.shape);
        // Frozen slopes (a frozen backbone fine-tuned from its input): the managed node gives libtorch's input gradient.
        using var frozen = new ChannelPReLU(6);
        frozen.Weight.requires_grad_(false);
        var x1 = x.detach().clone().requires_grad_(true);
        var x2 = x.detach().clone().requires_grad_(true);
        frozen.call(x1).pow(2).sum().backward();
        nn.functional.prelu(x2, frozen.Weight).pow(2).sum().backward();
        Assert.True(Same(x1.grad!, x2.grad!), "input gradient with frozen slopes differs from libtorch's");
        Assert.Null(frozen.Weight.grad);
        Assert.Equal(0.25f, new ChannelPReLU(4).Weight[0].item<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChannelPReLU(0));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
