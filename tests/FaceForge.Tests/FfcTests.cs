using FaceForge.Input;
using FaceForge.Synthesis;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Heads;
using FaceForge.Training.Recognition;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

/// <summary>FFC: the LRU class pool and its rollback, the pool loss, the pair loader, training, resume and bad input.</summary>
public class FfcTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{
    private static Tensor Rows(params float[][] rows) => torch.tensor(rows.SelectMany(r => r).ToArray()).reshape(rows.Length, rows[0].Length);

    [Fact]
    public void PoolEvictsTheLeastRecentlyUsedIdentityAndFillsBothSlotsOfARepeatedOne()
    {
        using var pool = new ClassPool(2, 2);
        pool.Write(Rows([1, 0], [0, 1]), [10, 20], tentative: false);
        Assert.Equal((0, 1), (pool.EntryOf(10), pool.EntryOf(20)));
        // 10 again: its second slot; it becomes the most recent, so 30 evicts 20.
        var existing = pool.Write(Rows([0.6f, 0.8f]), [10], tentative: false);
        Assert.Equal([0], existing);
        Assert.Equal([1f, 0f], pool.Slots[0][0].data<float>().ToArray());
        Assert.Equal([0.6f, 0.8f], pool.Slots[1][0].data<float>().ToArray());
        pool.Write(Rows([-1, 0]), [30], tentative: false);
        Assert.Equal(-1, pool.EntryOf(20));
        Assert.Equal(1, pool.EntryOf(30));
        Assert.Equal([10L, 30L], pool.Order().Select(o => o.Identity));
        Assert.Equal(-1f, pool.Slots[0][1][0].item<float>());

        // An entry touched, then evicted later in the same write, is another identity's now: not "existing".
        using var small = new ClassPool(4, 2);
        small.Write(torch.ones(4, 2), [1, 2, 3, 4], tentative: false);
        var refreshed = small.Write(torch.ones(5, 2), [1, 5, 6, 7, 8], tentative: false);
        Assert.Empty(refreshed);
        Assert.Equal((-1, 0), (small.EntryOf(1), small.EntryOf(8)));
        Assert.Throws<ArgumentException>(() => small.Write(torch.ones(2, 2), [9, -1], tentative: true));
        Assert.Equal(-1, small.EntryOf(9)); // refused before anything changed, and no tentative write left pending
        small.Write(torch.ones(1, 2), [9], tentative: false);
    }

    [Fact]
    public void RollbackRestoresSlotsPositionsAndOrderExactly()
    {
        using var pool = new ClassPool(3, 2);
        pool.Write(Rows([1, 0], [0, 1], [0.6f, 0.8f]), [1, 2, 1], tentative: false); // entries 0, 1; identity 1 twice
        var slots = pool.Slots.clone();
        var order = pool.Order().ToList();
        // A free entry taken, an eviction, a repeat and a touch, all undone.
        pool.Write(Rows([0.8f, 0.6f], [-1, 0], [0, -1], [0.5f, 0.5f]), [3, 4, 2, 4], tentative: true);
        Assert.Equal(-1, pool.EntryOf(1));
        pool.Rollback();
        Assert.Equal(order, pool.Order());
        Assert.True(pool.Slots.eq(slots).all().item<bool>());
        Assert.Equal((-1, -1, 2), (pool.EntryOf(3), pool.EntryOf(4), pool.Count));
        // The next write behaves as if the rolled-back one never happened.
        using var twin = new ClassPool(3, 2);
        twin.Write(Rows([1, 0], [0, 1], [0.6f, 0.8f]), [1, 2, 1], tentative: false);
        var a = pool.Write(Rows([0.1f, 0.2f], [0.3f, 0.4f]), [2, 5], tentative: false);
        var b = twin.Write(Rows([0.1f, 0.2f], [0.3f, 0.4f]), [2, 5], tentative: false);
        Assert.Equal(b, a);
        Assert.Equal(twin.Order(), pool.Order());
        Assert.True(pool.Slots.eq(twin.Slots).all().item<bool>());
        Assert.Throws<InvalidOperationException>(() => pool.Rollback());
    }

    [Fact]
    public void RestoredOrderContinuesAsTheOriginalPool()
    {
        using var pool = new ClassPool(3, 2);
        pool.Write(Rows([1, 0], [0, 1], [0.6f, 0.8f], [0.8f, 0.6f]), [7, 8, 9, 7], tentative: false);
        using var copy = new ClassPool(3, 2);
        copy.Restore(pool.Order(), "test");
        copy.Write(Rows([0, 1]), [11], tentative: false);
        pool.Write(Rows([0, 1]), [11], tentative: false);
        Assert.Equal(pool.Order(), copy.Order());
        Assert.Throws<InvalidDataException>(() => copy.Restore([(1, 0, 0), (2, 0, 1)], "bad.ckpt"));
    }

    [Fact]
    public void PoolLossIsTheMarginSoftmaxForKnownIdentitiesAndClippedHardNegativesForOthers()
    {
        Assert.Equal((3, 4, 10), (FfcClassifier.HardNegativeCount(100), FfcClassifier.HardNegativeCount(20_000), FfcClassifier.HardNegativeCount(1_000_000)));
        using var ffc = new FfcClassifier(4, 2, CombinedMarginHead.CosFace(0.35, 10));
        // Pool: identities 0..2 at angles 0, 90 and 180 degrees (entry 3 stays free).
        var gallery = Rows([1, 0], [0, 1], [-1, 0]);
        var probe = Rows([0.8f, 0.6f], [0.6f, 0.8f]).requires_grad_(true);
        // Probe 0 is identity 0 (in the pool), probe 1 is identity 9 (not).
        var loss = ffc.Pass(probe, torch.tensor(new long[] { 0, 9 }), gallery, torch.tensor(new long[] { 0, 1, 2 }), rollback: false);
        // Known: cosines (0.8, 0.6, -0.8), CosFace margin on the target, scale 10, free entry left out; twice (both matrices
        // are slot 0 here). Unknown: top 3 cosines (0.8, 0.6, -0.6) clipped at 0 -> mean 0.4667; twice.
        double[] logits = [10 * (0.8 - 0.35), 10 * 0.6, 10 * -0.8];
        double ce = -logits[0] + Math.Log(logits.Sum(Math.Exp));
        Assert.Equal(2 * (ce + (0.8 + 0.6 + 0) / 3), loss.item<float>(), 4);
        loss.backward();
        Assert.True(probe.grad!.abs().sum().item<float>() > 0);
        Assert.Throws<ArgumentException>(() => new FfcClassifier(4, 2, new MagFaceHead(64, 10, 110, 0.45, 0.8, 35)));
    }

    [Fact]
    public void PoolLossGradientMatchesAutogradWithARefreshedEntry()
    {
        torch.manual_seed(4);
        const double margin = 0.5, scale = 8;
        using var ffc = new FfcClassifier(6, 3, CombinedMarginHead.ArcFace(margin, scale));
        ffc.Pass(torch.randn(1, 3), torch.tensor(new long[] { 0 }), torch.randn(3, 3), torch.tensor(new long[] { 0, 1, 2 }), rollback: false);
        var probe = torch.randn(4, 3).requires_grad_(true);
        var labels = new long[] { 1, 3, 9, 2 }; // 1: refreshed below; 3: new; 9: not in the pool
        var gallery = torch.randn(2, 3);
        using var twin = new ClassPool(6, 3);
        twin.Restore(ffc.Pool.Order(), "test");
        using (torch.no_grad()) twin.Slots.copy_(ffc.Pool.Slots);
        var loss = ffc.Pass(probe, torch.tensor(labels), gallery, torch.tensor(new long[] { 1, 3 }), rollback: false);
        loss.backward();

        // The same by autograd: both matrices in full, ArcFace on the target, free entries left out, top-3 clipped for 9.
        var refreshed = twin.Write(nn.functional.normalize(gallery, dim: 1), [1, 3], tentative: false);
        Assert.Equal([twin.EntryOf(1)], refreshed);
        var reference = probe.detach().clone().requires_grad_(true);
        var features = nn.functional.normalize(reference, dim: 1);
        var second = twin.Slots[0].clone();
        second[twin.EntryOf(1)] = twin.Slots[1][twin.EntryOf(1)];
        var occupied = twin.Occupied();
        Tensor Loss(Tensor weights)
        {
            var cosine = features.mm(weights.t());
            var known = torch.tensor(new long[] { 0, 1, 3 });
            var targets = torch.tensor(new long[] { twin.EntryOf(1), twin.EntryOf(3), twin.EntryOf(2) });
            var rows = cosine.index_select(0, known);
            var logits = CombinedMarginHead.ArcFace(margin, scale).Logits(rows, targets, torch.ones(3)).masked_fill(occupied.logical_not().unsqueeze(0), double.NegativeInfinity);
            var softmax = nn.functional.cross_entropy(logits, targets);
            var hard = cosine[2].masked_fill(occupied.logical_not(), -1).topk(3).values.clamp_min(0).mean();
            return softmax + hard;
        }
        var expected = Loss(twin.Slots[0]) + Loss(second);
        expected.backward();
        Assert.Equal(expected.item<float>(), loss.item<float>(), 4);
        Assert.True(probe.grad!.allclose(reference.grad!, rtol: 1e-4, atol: 1e-5), $"gradients differ: {probe.grad!.str()} vs {reference.grad!.str()}");
    }

    [Fact]
    public void PairLoaderPutsTwoDistinctImagesOfOneIdentitySideBySide()
    {
        var loader = new BatchLoader(data.Dataset, new BatchLoaderOptions { BatchSize = 4, Workers = 1, IdentityPairs = true, Seed = 2 });
        Assert.Equal(0, loader.SingleImageIdentities);
        Assert.Equal(3, loader.BatchesPerEpoch); // 6 identities -> 12 images
        var seen = new HashSet<int>();
        foreach (var batch in loader.Epoch(0))
        {
            using (batch)
                for (int i = 0; i < batch.Count; i += 2)
                {
                    Assert.Equal(batch.Labels[i], batch.Labels[i + 1]);
                    Assert.NotEqual(batch.SampleIndices[i], batch.SampleIndices[i + 1]);
                    Assert.True(seen.Add(batch.Labels[i]));
                }
        }
        Assert.Equal(6, seen.Count);
        var tooMany = Assert.Throws<ArgumentException>(() => new BatchLoader(data.Dataset, new BatchLoaderOptions { BatchSize = 14, IdentityPairs = true }));
        Assert.Contains("identities", tooMany.Message);
    }

    [Fact]
    public void PairLoaderLeavesOutSingleImageIdentitiesWithACount()
    {
        string root = TestPaths.NewTempDirectory("ffc-singles");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 4, ImagesPerIdentity = 2, Size = 32, Seed = 3 }).WriteRecognitionSet(root, threads: 1);
        foreach (var extra in Directory.GetFiles(Directory.GetDirectories(root).Order().First()).Order().Skip(1)) File.Delete(extra);
        using var dataset = FaceForge.Data.ImageFolderDataset.Open(root);
        var loader = new BatchLoader(dataset, new BatchLoaderOptions { BatchSize = 2, IdentityPairs = true });
        Assert.Equal(1, loader.SingleImageIdentities);
        Assert.Equal(3, loader.BatchesPerEpoch);
    }

    private TrainingConfig Config(int steps) => new()
    {
        Data = data.Root, Arch = "mobilefacenet", Width = 0.125, EmbeddingSize = 32, BatchSize = 8, Epochs = 10, MaxSteps = steps,
        LearningRate = 0.05, Workers = 2, Seed = 3, LogEvery = 1, CheckpointEvery = 2, Classifier = ClassifierKind.Ffc, PoolSize = 4, Scale = 16,
    };

    [Fact]
    public void FfcRunResumesWithTheIdenticalNextStepLoss()
    {
        var full = new Trainer(Config(5), TestPaths.NewTempDirectory("ffc-straight")).Run();
        Assert.Equal(5, full.Steps);
        Assert.All(full.Losses, l => Assert.True(double.IsFinite(l.Loss) && l.Loss > 0));
        string split = TestPaths.NewTempDirectory("ffc-split");
        using (var stop = new CancellationTokenSource())
            Assert.Equal(3, new Trainer(Config(5), split).Run(progress: new CancelAt(3, stop), cancellation: stop.Token).Steps);
        var resumed = new Trainer(Config(5), split).Run(resume: true);
        // The checkpoint after step 2 holds P, G, the pool and its LRU order: steps 3 to 5 replay exactly.
        Assert.Equal(full.Losses[3].Loss, resumed.FirstLoss, 4);
        Assert.Equal(full.Losses[4].Loss, resumed.Losses[^1].Loss, 4);
        Assert.Equal("mobilefacenet", FaceForge.Models.ModelFile.ReadInfo(resumed.ModelPath).Architecture);
    }

    [Fact]
    public void BadFfcSettingsAndMismatchedResumesFailWithClearErrors()
    {
        Assert.Contains("sample_rate", Assert.Throws<ArgumentException>(() => new Trainer(Config(1) with { SampleRate = 0.5 }, TestPaths.NewTempDirectory("ffc-bad"))).Message);
        Assert.Contains("head", Assert.Throws<ArgumentException>(() => new Trainer(Config(1) with { Head = HeadKind.MagFace }, TestPaths.NewTempDirectory("ffc-bad"))).Message);
        Assert.Contains("pool_size", Assert.Throws<ArgumentException>(() => new Trainer(Config(1) with { PoolSize = 1.5 }, TestPaths.NewTempDirectory("ffc-bad"))).Message);
        var tooBig = Assert.Throws<ArgumentException>(() => new Trainer(Config(1) with { PoolSize = 7 }, TestPaths.NewTempDirectory("ffc-big")).Run());
        Assert.Contains("exceeds the 6 identities", tooBig.Message);

        string ffcRun = TestPaths.NewTempDirectory("ffc-as-fc");
        using (var stop = new CancellationTokenSource())
            new Trainer(Config(4), ffcRun).Run(progress: new CancelAt(2, stop), cancellation: stop.Token);
        var asFc = Assert.Throws<InvalidDataException>(() => new Trainer(Config(4) with { Classifier = ClassifierKind.Fc }, ffcRun).Run(resume: true));
        Assert.Contains("--classifier ffc", asFc.Message);
        var otherPool = Assert.Throws<InvalidDataException>(() => new Trainer(Config(4) with { PoolSize = 3 }, ffcRun).Run(resume: true));
        Assert.Contains("pool size", otherPool.Message);
        var otherSize = Assert.Throws<InvalidDataException>(() => new Trainer(Config(4) with { EmbeddingSize = 16 }, ffcRun).Run(resume: true));
        Assert.Contains("embedding size", otherSize.Message);
        // Nothing was written by the refused resumes: the run still resumes as it was.
        Assert.Equal(4, new Trainer(Config(4), ffcRun).Run(resume: true).Steps);

        string fcRun = TestPaths.NewTempDirectory("fc-as-ffc");
        using (var stop = new CancellationTokenSource())
            new Trainer(Config(4) with { Classifier = ClassifierKind.Fc }, fcRun).Run(progress: new CancelAt(2, stop), cancellation: stop.Token);
        Assert.Contains("--classifier fc", Assert.Throws<InvalidDataException>(() => new Trainer(Config(4), fcRun).Run(resume: true)).Message);
    }
}
