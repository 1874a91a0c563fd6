using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distillation;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;
using FaceForge.Training.Weights;
using TorchSharp;
using Xunit;

namespace FaceForge.Tests;

/// <summary>Data parallelism on threads (replicas).</summary>
public class ReplicaTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{
    private TrainingConfig Config(int steps) => TrainerTests.SmallRun(data.Root, steps) with { Head = HeadKind.ArcFace };

    [Fact]
    public void ReplicasTrainAsMicroBatchesAndRestoreTheThreadCount()
    {
        int original = torch.get_num_threads(), threads = 2;
        torch.set_num_threads(threads); // so that a restore to another count shows
        // Both normalise each half batch by its own statistics and sum the halves' gradients: the same step to rounding,
        // when both run one libtorch thread per piece (another thread count sums in another order, and this tiny run's
        // second loss moves by 1e-3 with it).
        TrainingResult pieces;
        torch.set_num_threads(1);
        try { pieces = new Trainer(Config(3) with { MicroBatches = 2, CheckpointEvery = 0 }, TestPaths.NewTempDirectory("replicas-micro")).Run(); }
        finally { torch.set_num_threads(threads); }
        var replicas = new Trainer(Config(3) with { Replicas = 2, CheckpointEvery = 0 }, TestPaths.NewTempDirectory("replicas-threads")).Run();
        Assert.Equal(pieces.Losses[0].Loss, replicas.Losses[0].Loss, 5);
        Assert.True(Math.Abs(pieces.Losses[1].Loss - replicas.Losses[1].Loss) <= 1e-5 * Math.Abs(pieces.Losses[1].Loss), $"step 2: {pieces.Losses[1].Loss} vs {replicas.Losses[1].Loss}");
        // One batch through the whole network is another computation: its loss differs from the first step on.
        var whole = new Trainer(Config(1) with { CheckpointEvery = 0 }, TestPaths.NewTempDirectory("replicas-whole")).Run();
        Assert.NotEqual(Math.Round(whole.Losses[0].Loss, 4), Math.Round(replicas.Losses[0].Loss, 4));
        Assert.Equal(threads, torch.get_num_threads());
        torch.set_num_threads(original);
    }

    [Theory]
    [InlineData(2, 8)]
    [InlineData(3, 12)] // (a + a + a) / 3 is not always a in float32: statistics are averaged only after they moved
    public void AReplicatedRunResumesToTheSameModel(int copies, int batch)
    {
        var config = Config(5) with { Replicas = copies, BatchSize = batch, Optimizer = OptimizerKind.AdamW, LearningRate = 0.002 };
        string straight = TestPaths.NewTempDirectory("replicas-straight"), split = TestPaths.NewTempDirectory("replicas-split");
        var full = new Trainer(config, straight).Run();
        using (var stop = new CancellationTokenSource())
            Assert.Equal(3, new Trainer(config, split).Run(progress: new CancelAt(3, stop), cancellation: stop.Token).Steps);
        var resumed = new Trainer(config, split).Run(resume: true);
        Assert.Equal(full.Losses[3].Loss, resumed.FirstLoss, 5);
        Assert.Equal(full.Losses[4].Loss, resumed.Losses[^1].Loss, 5);
        // Weights and BatchNorm running statistics (the copies' mean) come out the same.
        var (_, a) = ModelFile.Read(full.ModelPath);
        var (_, b) = ModelFile.Read(resumed.ModelPath);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.Contains(a.Keys, k => k.EndsWith("running_mean", StringComparison.Ordinal));
        foreach (var name in a.Keys)
        {
            using var x = StateDict.ToTensor(a[name]);
            using var y = StateDict.ToTensor(b[name]);
            Assert.True(x.allclose(y, rtol: 1e-6, atol: 1e-7), $"{name} differs after resuming");
        }
    }

    [Fact]
    public void RunningStatisticsAreTheCopiesMean()
    {
        torch.manual_seed(5);
        var info = BackboneCatalog.Defaults("mobilefacenet") with { Options = new() { ["width"] = 0.125 }, EmbeddingSize = 16 };
        using var network = BackboneCatalog.Create(info);
        network.train();
        using var replicas = new Training.Distributed.ThreadReplicas(network, () => BackboneCatalog.Create(info), 2);
        var images = torch.randn(4, 3, 112, 112);
        // What each half alone does to a fresh copy's statistics.
        var halves = images.chunk(2).Select(piece =>
        {
            torch.manual_seed(5);
            using var alone = BackboneCatalog.Create(info);
            alone.load_state_dict(network.state_dict());
            alone.train();
            using (torch.no_grad()) alone.call(piece);
            return alone.state_dict().Where(kv => kv.Key.EndsWith("running_mean", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        }).ToArray();
        var joined = replicas.Forward(images);
        Assert.Equal([4, 16], joined.shape);
        joined.sum().backward();
        Assert.True(replicas.Backward(joined));
        replicas.Synchronise();
        var state = network.state_dict();
        foreach (var (name, first) in halves[0])
            Assert.True(state[name].allclose((first + halves[1][name]) / 2, rtol: 1e-5, atol: 1e-6), $"{name} is not the halves' mean");
        Assert.All(network.parameters(), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void AFrozenNetworkEmbedsInPiecesAsWhole()
    {
        torch.manual_seed(6);
        var info = BackboneCatalog.Defaults("mobilefacenet-casia") with { Options = new() { ["width"] = 0.125 }, EmbeddingSize = 16 };
        using var network = BackboneCatalog.Create(info);
        using (torch.no_grad()) network.call(torch.randn(8, 3, 112, 96)); // running statistics away from their start
        network.eval();
        using var replicas = new Training.Distributed.ThreadReplicas(network, () => BackboneCatalog.Create(info), 2);
        var images = torch.randn(5, 3, 112, 96); // odd: pieces of 3 and 2
        using var whole = torch.no_grad();
        var expected = network.call(Training.Runtime.ChannelsLast.From(images));
        var pieces = replicas.Infer(images);
        Assert.False(pieces.requires_grad);
        Assert.True(pieces.allclose(expected, rtol: 1e-4, atol: 1e-5), $"max difference {(pieces - expected).abs().max().item<float>()}");
        Assert.Equal([1, 16], replicas.Infer(images[..1]).shape); // one image: one copy works
    }

    [Fact]
    public void BadReplicaCountsAreRefusedNamingTheKey()
    {
        var odd = Assert.Throws<ArgumentException>(() => (Config(1) with { Replicas = 3 }).Validate());
        Assert.Contains("'replicas' must divide batch_size 8 into pieces of 2 or more images", odd.Message);
        Assert.Throws<ArgumentException>(() => (Config(1) with { Replicas = 8 }).Validate()); // pieces of one image
        var both = Assert.Throws<ArgumentException>(() => (Config(1) with { Replicas = 2, MicroBatches = 2 }).Validate());
        Assert.Contains("micro_batches 1", both.Message);
        var ffc = Assert.Throws<ArgumentException>(() => (Config(1) with { Replicas = 2, Classifier = ClassifierKind.Ffc }).Validate());
        Assert.Contains("'replicas' must be 1 with classifier ffc", ffc.Message);
        Assert.Throws<ArgumentException>(() => (Config(1) with { Replicas = 0 }).Validate());
        var distill = Assert.Throws<ArgumentException>(() => new DistillationConfig { Teacher = "t.ffm", Data = "d", BatchSize = 8, Replicas = 3 }.Validate());
        Assert.Contains("replicas", distill.Message);
    }
}
