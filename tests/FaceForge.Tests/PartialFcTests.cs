using FaceForge.Training.Classifiers;
using FaceForge.Training.Heads;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

public class PartialFcTests
{
    private const int Classes = 10, Dim = 6, Batch = 8;

    private static MarginHead Head(string kind) => kind switch
    {
        "arcface" => CombinedMarginHead.ArcFace(0.5, 16),
        "cosface" => CombinedMarginHead.CosFace(0.35, 16),
        "magface" => new MagFaceHead(scale: 16, lowerMagnitude: 1, upperMagnitude: 10, lambda: 10),
        _ => new CurricularFaceHead(0.5, 16),
    };

    [Fact]
    public void InitialCentresDoNotDependOnTheSplit()
    {
        // 70,000 classes cross a 65,536-row init block, so shards start mid-block.
        const int classes = 70_000;
        var full = new MarginSoftmaxClassifier(classes, 4, CombinedMarginHead.ArcFace(), seed: 9);
        using var threeShards = new PartialFc(classes, 4, CombinedMarginHead.ArcFace(), new PartialFcOptions { Shards = 3, Seed = 9 });
        using var joined = torch.cat(threeShards.Shards.Select(s => s.Centres).ToArray(), 0);
        Assert.True(joined.allclose(full.parameters().Single(), rtol: 0, atol: 0), "centres differ between 1 and 3 shards");
        using var other = new MarginSoftmaxClassifier(classes, 4, CombinedMarginHead.ArcFace(), seed: 10);
        Assert.False(other.parameters().Single().allclose(full.parameters().Single(), rtol: 0, atol: 1e-6));
    }

    [Theory]
    [InlineData(1, "arcface")]
    [InlineData(2, "cosface")]
    [InlineData(3, "arcface")]
    [InlineData(3, "curricularface")]
    [InlineData(2, "magface")]
    [InlineData(1, "arcface", 3)] // the blocked kernel over several blocks, the last one short
    [InlineData(2, "magface", 2)]
    public void RateOneEqualsFullSoftmaxInLossAndGradients(int shards, string head, int blockRows = 16_384)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        var features = (torch.randn(Batch, Dim) * 3).requires_grad_(true);
        var labels = torch.tensor(new long[] { 0, 3, 9, 4, 4, 7, 1, 9 });
        var pfcHead = Head(head);
        var fullHead = Head(head);
        pfcHead.train(); fullHead.train();
        using var pfc = new PartialFc(Classes, Dim, pfcHead, new PartialFcOptions { SampleRate = 1, Shards = shards, Seed = 2, BlockRows = blockRows });
        // 10 classes over 3 shards is uneven: 4, 3, 3.
        Assert.Equal(shards == 3 ? new long[] { 4, 3, 3 } : pfc.Shards.Select(s => s.Count).ToArray(), pfc.Shards.Select(s => s.Count).ToArray());

        var full = new MarginSoftmaxClassifier(Classes, Dim, fullHead);
        using (torch.no_grad()) full.parameters().Single().copy_(torch.cat(pfc.Shards.Select(s => s.Centres).ToArray(), 0));
        var fullLoss = full.call(features, labels);
        fullLoss.backward();

        double loss = pfc.ForwardBackward(features, labels, out var featureGradient);
        Assert.True(Math.Abs(fullLoss.item<float>() - loss) <= 1e-5, $"loss {loss} vs full softmax {fullLoss.item<float>()}");
        Assert.True(featureGradient.allclose(features.grad!, rtol: 1e-4, atol: 1e-5), "feature gradients differ");
        var fullWeightGrad = full.parameters().Single().grad!;
        for (int i = 0; i < shards; i++)
        {
            var (rows, gradient) = pfc.PendingGradient(i)!.Value;
            var shard = pfc.Shards[i];
            Assert.Equal(Enumerable.Range(0, (int)shard.Count).Select(r => (long)r), rows.data<long>().ToArray());
            var expected = fullWeightGrad.narrow(0, shard.Start, shard.Count);
            Assert.True(gradient.allclose(expected, rtol: 1e-4, atol: 1e-5), $"centre gradients of shard {i} differ by up to {(gradient - expected).abs().max().item<float>():g3} (largest {expected.abs().max().item<float>():g3})");
        }
        if (head == "curricularface")
            Assert.Equal(((CurricularFaceHead)fullHead).T, ((CurricularFaceHead)pfcHead).T, 6);
    }

    [Fact]
    public void SamplingKeepsEveryPositiveAndRemapsLabels()
    {
        using var scope = torch.NewDisposeScope();
        using var pfc = new PartialFc(1000, Dim, CombinedMarginHead.ArcFace(), new PartialFcOptions { SampleRate = 0.1, Shards = 2, Seed = 3 });
        var labels = torch.tensor(new long[] { 3, 499, 500, 999, 3, 750, 12, 600 });
        pfc.ForwardBackward(torch.randn(Batch, Dim), labels, out _);
        for (int i = 0; i < 2; i++)
        {
            var shard = pfc.Shards[i];
            var rows = pfc.PendingGradient(i)!.Value.Rows.data<long>().ToArray();
            Assert.Equal(50, rows.Length); // 10 % of 500
            Assert.Equal(rows.Order(), rows);
            Assert.Equal(rows.Length, rows.Distinct().Count());
            foreach (long label in labels.data<long>().ToArray().Where(l => l >= shard.Start && l < shard.Start + shard.Count))
                Assert.Contains(label - shard.Start, rows);
        }
    }

    [Theory]
    [InlineData(CentreStorage.Float32)]
    [InlineData(CentreStorage.Float16)]
    public void StepChangesOnlySampledRows(CentreStorage storage)
    {
        using var scope = torch.NewDisposeScope();
        using var pfc = new PartialFc(200, Dim, CombinedMarginHead.CosFace(), new PartialFcOptions { SampleRate = 0.1, Storage = storage, Seed = 4 });
        var before = pfc.Shards[0].Centres.to_type(ScalarType.Float32).clone();
        pfc.ForwardBackward(torch.randn(4, Dim), torch.tensor(new long[] { 1, 2, 150, 199 }), out _);
        pfc.Step(0.5, 0.9, 5e-4);
        var rows = pfc.PendingGradient(0)!.Value.Rows.data<long>().ToHashSet();
        var after = pfc.Shards[0].Centres.to_type(ScalarType.Float32);
        Assert.Equal(storage == CentreStorage.Float16 ? ScalarType.Float16 : ScalarType.Float32, pfc.Shards[0].Centres.dtype);
        for (long r = 0; r < 200; r++)
        {
            bool changed = !after[r].allclose(before[r], 0, 0);
            bool moving = pfc.Shards[0].Momentum[r].to_type(ScalarType.Float32).abs().sum().item<float>() > 0;
            if (!rows.Contains(r)) Assert.False(changed || moving, $"unsampled row {r} changed");
            // In float16 a sampled negative's tiny update may round away; in float32 every sampled row moves.
            else if (storage == CentreStorage.Float32) Assert.True(changed && moving, $"sampled row {r} did not change");
        }
    }

    [Fact]
    public void CatchUpMomentumEqualsSgdOverTheWholeMatrix()
    {
        // Reference: SGD with momentum on all 40 rows every step; unsampled rows get no gradient and no weight decay.
        double catchUp = LargestGapFromWholeMatrixSgd(CentreMomentum.CatchUp);
        Assert.True(catchUp < 1e-5, $"catch-up is {catchUp:g3} away from whole-matrix SGD");
        // The check can fail: the first release's momentum leaves rows behind.
        Assert.True(LargestGapFromWholeMatrixSgd(CentreMomentum.SampledOnly) > 1e-3);
    }

    private static double LargestGapFromWholeMatrixSgd(CentreMomentum momentum)
    {
        const int classes = 40;
        const double mu = 0.9, decay = 5e-4;
        using var scope = torch.NewDisposeScope();
        using var pfc = new PartialFc(classes, Dim, CombinedMarginHead.ArcFace(0.5, 16), new PartialFcOptions { SampleRate = 0.3, Shards = 2, Momentum = momentum, Seed = 5 });
        var weights = torch.cat(pfc.Shards.Select(s => s.Centres).ToArray(), 0).clone();
        var velocity = torch.zeros_like(weights);
        var generator = new Generator(11);
        double largest = 0;
        for (int step = 0; step < 30; step++)
        {
            double lr = 0.2 + 0.1 * (step % 4); // a changing rate, as in warmup and decay
            var features = torch.randn([Batch, Dim], generator: generator) * 3;
            var labels = torch.randint(0, classes, [4], generator: generator).repeat(2);
            pfc.ForwardBackward(features, labels, out _);
            var gradient = torch.zeros_like(weights);
            for (int i = 0; i < pfc.Shards.Count; i++)
            {
                var (rows, rowGradient) = pfc.PendingGradient(i)!.Value;
                gradient.index_copy_(0, rows + pfc.Shards[i].Start, rowGradient + weights.index_select(0, rows + pfc.Shards[i].Start) * decay);
            }
            velocity = velocity * mu + gradient;
            weights = weights - velocity * lr;
            pfc.Step(lr, mu, decay);
            for (int i = 0; i < pfc.Shards.Count; i++)
            {
                // The rows just updated must be where whole-matrix SGD has them, relative to their size (the two
                // computations round differently, and the values grow large).
                var shard = pfc.Shards[i];
                var rows = pfc.PendingGradient(i)!.Value.Rows;
                largest = Math.Max(largest, RelativeGap(shard.Centres.index_select(0, rows), weights.index_select(0, rows + shard.Start)));
                largest = Math.Max(largest, RelativeGap(shard.Momentum.index_select(0, rows), velocity.index_select(0, rows + shard.Start)));
            }
        }
        return largest;
    }

    private static double RelativeGap(Tensor actual, Tensor expected) =>
        ((actual - expected).norm(1) / (expected.norm(1) + 1e-6)).max().item<float>();

    [Fact]
    public void BadSettingsAndLabelsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new PartialFc(10, Dim, CombinedMarginHead.ArcFace(), new PartialFcOptions { SampleRate = 0 }));
        Assert.Throws<ArgumentException>(() => new PartialFc(10, Dim, CombinedMarginHead.ArcFace(), new PartialFcOptions { SampleRate = 1.5 }));
        var shards = Assert.Throws<ArgumentException>(() => new PartialFc(3, Dim, CombinedMarginHead.ArcFace(), new PartialFcOptions { Shards = 4 }));
        Assert.Contains("More shards", shards.Message);
        using var pfc = new PartialFc(10, Dim, CombinedMarginHead.ArcFace(), new PartialFcOptions { SampleRate = 1 });
        var e = Assert.Throws<ArgumentException>(() => pfc.ForwardBackward(torch.randn(2, Dim), torch.tensor(new long[] { 1, 10 }), out _));
        Assert.Contains("[0, 10)", e.Message);
    }
}
