using FaceForge.Training.Heads;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

public class HeadTests
{
    private static Tensor Cos(double[,] values) => torch.tensor(values, ScalarType.Float64);

    private static readonly double[,] Cosines = { { 0.6, 0.2, -0.1 }, { -0.3, -0.95, 0.4 }, { 0.1, 0.7, 0.75 } };
    private static readonly long[] Labels = [0, 1, 2];

    [Fact]
    public void ZeroMarginIsScaledCosine()
    {
        using var scope = torch.NewDisposeScope();
        var head = new CombinedMarginHead(scale: 64, m2: 0);
        var logits = head.Logits(Cos(Cosines), torch.tensor(Labels), torch.ones(3));
        Assert.True(logits.allclose(Cos(Cosines) * 64, rtol: 0, atol: 1e-12));
    }

    [Fact]
    public void ArcFaceTargetsMatchHandComputedValues()
    {
        using var scope = torch.NewDisposeScope();
        var logits = CombinedMarginHead.ArcFace(0.5, 1).Logits(Cos(Cosines), torch.tensor(Labels), torch.ones(3));
        Assert.Equal(Math.Cos(Math.Acos(0.6) + 0.5), logits[0, 0].item<double>(), 10);
        // theta = acos(-0.95) is past pi - m: the fallback cos - m sin(m) keeps the target monotonic.
        Assert.Equal(-0.95 - 0.5 * Math.Sin(0.5), logits[1, 1].item<double>(), 10);
        Assert.Equal(Math.Cos(Math.Acos(0.75) + 0.5), logits[2, 2].item<double>(), 10);
        Assert.Equal(0.2, logits[0, 1].item<double>(), 12); // non-targets untouched
    }

    [Fact]
    public void CosFaceSubtractsTheMargin()
    {
        using var scope = torch.NewDisposeScope();
        var logits = CombinedMarginHead.CosFace(0.35, 2).Logits(Cos(Cosines), torch.tensor(Labels), torch.ones(3));
        Assert.Equal(2 * (0.6 - 0.35), logits[0, 0].item<double>(), 12);
        Assert.Equal(2 * 0.7, logits[2, 1].item<double>(), 12);
    }

    [Fact]
    public void SphereFaceStyleMarginIsMonotonicPastPi()
    {
        using var scope = torch.NewDisposeScope();
        var head = new CombinedMarginHead(scale: 1, m1: 4, m2: 0);
        var cos = torch.linspace(-0.999, 0.999, 200, dtype: ScalarType.Float64).unsqueeze(1);
        var target = head.Logits(cos, torch.zeros(200, dtype: ScalarType.Int64), torch.ones(200)).squeeze(1);
        Assert.True((target[1..] - target[..^1]).ge(0).all().item<bool>());
        Assert.Equal(Math.Cos(4 * Math.Acos(0.999)), target[-1].item<double>(), 6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnalyticGradientMatchesFiniteDifferences(bool magFace)
    {
        using var scope = torch.NewDisposeScope();
        MarginHead head = magFace ? new MagFaceHead(scale: 8) : CombinedMarginHead.ArcFace(0.5, 8);
        var labels = torch.tensor(Labels);
        var norms = torch.tensor(new double[] { 20, 55, 90 });
        double Loss(Tensor c) => nn.functional.cross_entropy(head.Logits(c, labels, norms), labels).item<double>();
        var cosine = Cos(Cosines).requires_grad_(true);
        nn.functional.cross_entropy(head.Logits(cosine, labels, norms), labels).backward();
        var analytic = cosine.grad!.clone();
        const double h = 1e-6;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                var plus = Cos(Cosines); plus[i, j] = plus[i, j] + h;
                var minus = Cos(Cosines); minus[i, j] = minus[i, j] - h;
                // Central differences in float64: error O(h^2) plus rounding around 1e-10.
                Assert.Equal((Loss(plus) - Loss(minus)) / (2 * h), analytic[i, j].item<double>(), 6);
            }
    }

    [Fact]
    public void StraightThroughGradientIsThatOfThePlainCosine()
    {
        using var scope = torch.NewDisposeScope();
        const double s = 8;
        var head = CombinedMarginHead.ArcFace(0.5, s, straightThrough: true);
        var labels = torch.tensor(Labels);
        var cosine = Cos(Cosines).requires_grad_(true);
        var logits = head.Logits(cosine, labels, torch.ones(3));
        nn.functional.cross_entropy(logits, labels).backward();
        // d loss / d cos = s (p - onehot) / N, with p the softmax of the margin logits.
        var expected = (nn.functional.softmax(logits.detach(), 1) - nn.functional.one_hot(labels, 3).to_type(ScalarType.Float64)) * s / 3;
        Assert.True(cosine.grad!.allclose(expected, rtol: 0, atol: 1e-12));
        Assert.Equal(s * Math.Cos(Math.Acos(0.6) + 0.5), logits[0, 0].item<double>(), 10);
    }

    [Fact]
    public void MagFaceChecksFeasibilityAndComputesMarginAndRegulariser()
    {
        using var scope = torch.NewDisposeScope();
        var head = new MagFaceHead();
        Assert.Equal(64 * (0.35 / 100) * 110 * 110 * 100 / (110 * 110 - 100.0), head.MinimumLambda, 9);
        Assert.InRange(head.MinimumLambda, 22.5, 22.7);
        var e = Assert.Throws<ArgumentException>(() => new MagFaceHead(lambda: 20));
        Assert.Contains("22.5", e.Message);
        var norms = torch.tensor(new double[] { 5, 10, 60, 110, 200 });
        var margins = head.Margin(norms);
        Assert.Equal([0.45, 0.45, 0.625, 0.8, 0.8], margins.data<double>().ToArray().Select(m => Math.Round(m, 9)));
        double expected = 35 * new[] { 10.0, 10, 60, 110, 110 }.Average(a => a / (110 * 110) + 1 / a);
        Assert.Equal(expected, head.Regularizer(norms)!.item<double>(), 9);
        var logits = new MagFaceHead(scale: 1).Logits(Cos(Cosines), torch.tensor(Labels), torch.tensor(new double[] { 60, 10, 110 }));
        Assert.Equal(Math.Cos(Math.Acos(0.6) + 0.625), logits[0, 0].item<double>(), 9);
    }

    [Fact]
    public void CurricularFaceUpdatesTAndModulatesHardNegatives()
    {
        using var scope = torch.NewDisposeScope();
        var head = new CurricularFaceHead(0.5, 1);
        head.train();
        Assert.Equal(0, head.T);
        head.Observe(torch.tensor((0.6 - 0.95 + 0.75) / 3));
        var logits = head.Logits(Cos(Cosines).to_type(ScalarType.Float32), torch.tensor(Labels), torch.ones(3));
        double t = 0.01 * (0.6 - 0.95 + 0.75) / 3;
        Assert.Equal(t, head.T, 6);
        // Row 2: target cos(acos(0.75) + 0.5) ~ 0.35; 0.7 is a hard negative, 0.1 is easy.
        Assert.Equal(0.7 * (t + 0.7), logits[2, 1].item<float>(), 5);
        Assert.Equal(0.1, logits[2, 0].item<float>(), 5);
        Assert.Equal(Math.Cos(Math.Acos(0.75) + 0.5), logits[2, 2].item<float>(), 5);
        Assert.Contains("t", head.state_dict().Keys);
        head.eval();
        head.Observe(torch.tensor(0.9));
        Assert.Equal(t, head.T, 6); // evaluation leaves t alone
    }

    [Fact]
    public void UnlabelledRowsKeepTheirCosines()
    {
        using var scope = torch.NewDisposeScope();
        var logits = CombinedMarginHead.ArcFace(0.5, 1).Logits(Cos(Cosines), torch.tensor(new long[] { -1, 1, -1 }), torch.ones(3));
        Assert.True(logits[0].allclose(Cos(Cosines)[0]));
        Assert.Equal(-0.95 - 0.5 * Math.Sin(0.5), logits[1, 1].item<double>(), 10);
    }
}
