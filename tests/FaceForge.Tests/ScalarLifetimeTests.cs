using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Detection;
using FaceForge.Training.Heads;
using FaceForge.Training.Hosting;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Recognition;
using FaceForge.Training.Runtime;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

/// <summary>
/// The layers and optimizers that replace TorchSharp's where its temporary Scalars could be freed mid-call
/// (docs/reliability.md): the same arithmetic as TorchSharp's, and used everywhere FaceForge trains.
/// </summary>
[Collection(nameof(CollectorHammerCollection))]
public class ScalarLifetimeTests
{
    public static TheoryData<string> Optimizers => ["sgd", "sgd-nesterov", "adamw", "adam"];

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void OptimizersStepExactlyAsTorchSharpsOwn(string kind)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var start = new[] { randn([4, 3], generator: new Generator(1)), randn([3], generator: new Generator(2)) };
        Parameter[] ours = [.. start.Select(t => new Parameter(t.clone())) ], theirs = [.. start.Select(t => new Parameter(t.clone()))];
        using var mine = Create(kind, ours, faceforge: true);
        using var reference = Create(kind, theirs, faceforge: false);
        var generator = new Generator(3);
        for (int step = 0; step < 5; step++)
        {
            foreach (var (a, b) in ours.Zip(theirs))
            {
                var gradient = randn(a.shape, generator: generator);
                a.grad = gradient.clone();
                b.grad = gradient.clone();
            }
            mine.step();
            reference.step();
        }
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.True(ours[i].eq(theirs[i]).all().item<bool>(), $"{kind}: {ours[i].sub(theirs[i]).abs().max().item<float>()} apart after 5 steps");
            Assert.True(ours[i].sub(start[i]).abs().min().item<float>() > 0, "every weight moved");
        }
    }

    private static optim.Optimizer Create(string kind, Parameter[] parameters, bool faceforge) => (kind, faceforge) switch
    {
        ("sgd", true) => new SgdOptimizer(parameters, 0.1, 0.9, 5e-4),
        ("sgd", false) => optim.SGD(parameters, 0.1, 0.9, weight_decay: 5e-4),
        ("sgd-nesterov", true) => new SgdOptimizer(parameters, 0.1, 0.9, 5e-4, nesterov: true),
        ("sgd-nesterov", false) => optim.SGD(parameters, 0.1, 0.9, weight_decay: 5e-4, nesterov: true),
        ("adamw", true) => new AdamWOptimizer([new AdamWOptimizer.ParamGroup(parameters, new AdamWOptimizer.Options())], 0.01, weightDecay: 0.05),
        ("adamw", false) => optim.AdamW(parameters, 0.01, weight_decay: 0.05),
        ("adam", true) => new AdamOptimizer(parameters, 0.01, weightDecay: 1e-3),
        ("adam", false) => optim.Adam(parameters, 0.01, weight_decay: 1e-3),
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void OptimizerCheckpointsReadAcrossTorchSharpsClassesAndOurs(string kind)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        string dir = TestPaths.NewTempDirectory("optimizer-names");
        // Three states after two steps: TorchSharp's (as checkpoints before FaceForge's optimizers), ours through the
        // archive, and ours saved raw under its own class name (as the first build with them wrote).
        var start = randn([3, 2], generator: new Generator(5));
        Parameter[] theirs = [new(start.clone())], ours = [new(start.clone())], raw = [new(start.clone())];
        using var reference = Create(kind, theirs, faceforge: false);
        using var mine = Create(kind, ours, faceforge: true);
        using var early = Create(kind, raw, faceforge: true);
        foreach (var (optimizer, parameters) in new[] { (reference, theirs), (mine, ours), (early, raw) })
            for (int step = 0; step < 2; step++)
            {
                parameters[0].grad = full([3, 2], 0.5f + step);
                optimizer.step();
            }
        string Save(string file, optim.Optimizer optimizer, bool rawName)
        {
            string path = Path.Combine(dir, file);
            CheckpointArchive.Save(path, new CheckpointState(2, 0, 0), w =>
            {
                if (!rawName) { w.WriteOptimizer("optimizer.bin", optimizer); return; }
                using var buffer = new MemoryStream();
                using (var writer = new BinaryWriter(buffer)) ((OptimizerHelper)optimizer).save_state_dict(writer);
                w.WriteBytes("optimizer.bin", buffer.ToArray());
            });
            return path;
        }
        // Each state, loaded into a fresh optimizer of the other kind, takes the same next step as its source.
        foreach (var (file, source, parameters, rawName) in new[] { ("theirs.zip", reference, theirs, false), ("ours.zip", mine, ours, false), ("raw.zip", early, raw, true) })
        {
            string path = Save(file, source, rawName);
            Parameter[] copy = [new(parameters[0].detach().clone())];
            using var target = Create(kind, copy, faceforge: source == reference || rawName);
            CheckpointArchive.Load(path, (r, _) => r.LoadOptimizer("optimizer.bin", target));
            foreach (var (optimizer, p) in new[] { (source, parameters), (target, copy) })
            {
                p[0].grad = full([3, 2], -0.25f);
                optimizer.step();
            }
            Assert.True(copy[0].eq(parameters[0]).all().item<bool>(), $"{kind}, {file}");
        }
        // A state of another family is refused, with TorchSharp's message naming both.
        using var other = kind.StartsWith("sgd", StringComparison.Ordinal) ? (optim.Optimizer)new AdamOptimizer([new Parameter(start.clone())], 0.1) : new SgdOptimizer([new Parameter(start.clone())], 0.1);
        var refusal = Assert.Throws<InvalidDataException>(() => CheckpointArchive.Load(Path.Combine(dir, "ours.zip"), (r, _) => r.LoadOptimizer("optimizer.bin", other)));
        Assert.Contains("Mismatched optimizer type", refusal.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNormLayerComputesAsTorchSharpsBatchNorm(bool spatial)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        nn.Module<Tensor, Tensor> mine = spatial ? BatchNormLayer.Channels(5, eps: 2e-5) : BatchNormLayer.Features(5, eps: 2e-5);
        nn.Module<Tensor, Tensor> reference = spatial ? nn.BatchNorm2d(5, eps: 2e-5) : nn.BatchNorm1d(5, eps: 2e-5);
        using (no_grad())
            foreach (var module in new[] { mine, reference })
            {
                var norm = (BatchNorm)module;
                norm.weight.copy_(linspace(0.5, 1.5, 5));
                norm.bias!.copy_(linspace(-1, 1, 5));
            }
        Assert.Equal(reference.state_dict().Keys.Order(), mine.state_dict().Keys.Order());
        var generator = new Generator(4);
        long[] shape = spatial ? [6, 5, 3, 4] : [6, 5];
        for (int step = 0; step < 3; step++)
        {
            var x = randn(shape, generator: generator).mul(2).add(1);
            Assert.True(mine.call(x).eq(reference.call(x)).all().item<bool>(), $"training step {step}");
        }
        foreach (var (key, value) in reference.state_dict())
            Assert.True(mine.state_dict()[key].eq(value).all().item<bool>(), key);
        Assert.Equal(3L, mine.state_dict()["num_batches_tracked"].item<long>());
        mine.eval();
        reference.eval();
        var probe = randn(shape, generator: generator);
        Assert.True(mine.call(probe).eq(reference.call(probe)).all().item<bool>(), "evaluation");
        Assert.Equal(3L, mine.state_dict()["num_batches_tracked"].item<long>()); // evaluation does not count
        Assert.Throws<ArgumentException>(() => mine.call(randn(spatial ? [2, 5] : [2, 5, 3, 4])));
    }

    [Fact]
    public void BatchNormAndOptimizerStepsSurviveTheCollector()
    {
        TorchRuntime.EnsureLoaded();
        TensorSumTests.AssertTheHammerBites();
        using var norm = BatchNormLayer.Channels(4);
        using var x = randn(2, 4, 2, 2);
        var forward = TensorSumTests.Hammer(() => { using var y = norm.call(x); }, 20_000);
        Assert.Equal(0, forward.Failures);
        Assert.Equal(20_000L, norm.num_batches_tracked!.item<long>());
        using var parameter = new Parameter(zeros(8, 8));
        using var optimizer = new AdamWOptimizer([new AdamWOptimizer.ParamGroup([parameter], new AdamWOptimizer.Options())], 1e-3, weightDecay: 0.05);
        parameter.grad = ones(8, 8);
        var steps = TensorSumTests.Hammer(() => optimizer.step(), 5_000);
        Assert.Equal(0, steps.Failures);
        // The ArcFace classifier's forward and backward (TorchSharp's number arguments failed 80 times in 20,000 here).
        using var classifier = new MarginSoftmaxClassifier(50, 16, CombinedMarginHead.ArcFace(0.1, 32));
        using var embeddings = randn(8, 16).requires_grad_(true);
        using var labels = randint(0, 50, [8]);
        var margin = TensorSumTests.Hammer(() => { using var scope = NewDisposeScope(); classifier.call(embeddings, labels).backward(); }, 5_000);
        Assert.Equal(0, margin.Failures);
    }

    [Fact]
    public void PartialFcAndFfcStepsSurviveTheCollector()
    {
        // Before their numbers were held, 3,000 steps here failed 13 (Partial FC, ArcFace), 10 (MagFace), 14
        // (CurricularFace) and 39 times (FFC); docs/reliability.md.
        TorchRuntime.EnsureLoaded();
        TensorSumTests.AssertTheHammerBites();
        manual_seed(0);
        using var features = randn(16, 32);
        using var labels = randint(0, 200, [16]);
        foreach (var head in new MarginHead[] { new MagFaceHead(32, 1, 51, 0.45, 1, 5), new CurricularFaceHead(0.5, 32) })
        {
            using var pfc = new PartialFc(200, 32, head, new PartialFcOptions { SampleRate = 0.5 });
            var steps = TensorSumTests.Hammer(() =>
            {
                using var scope = NewDisposeScope();
                pfc.ForwardBackward(features, labels, out _);
                pfc.Step(0.1, 0.9, 5e-4);
            }, 600);
            Assert.Equal(0, steps.Failures);
        }
        using var ffc = new FfcClassifier(64, 32, CombinedMarginHead.ArcFace(0.5, 32));
        using var x = randn(8, 32);
        using var y = randn(8, 32);
        using var labelsX = randint(0, 100, [8]);
        using var labelsY = randint(0, 100, [8]);
        var passes = TensorSumTests.Hammer(() =>
        {
            using var scope = NewDisposeScope();
            ffc.Step(x.clone().requires_grad_(true), labelsX, x, y.clone().requires_grad_(true), labelsY, y).backward();
        }, 600);
        Assert.Equal(0, passes.Failures);
    }

    [Fact]
    public void EveryNetworkFaceForgeTrainsNormalisesWithItsOwnLayer()
    {
        TorchRuntime.EnsureLoaded();
        foreach (var (name, network) in TrainedNetworks())
            using (network)
            {
                var norms = network.modules().OfType<BatchNorm>().ToList();
                Assert.NotEmpty(norms);
                Assert.All(norms, n => Assert.IsType<BatchNormLayer>(n));
                Assert.DoesNotContain(network.modules(), m => m is BatchNorm2d or BatchNorm1d);
            }
        using var parameter = new Parameter(zeros(2, 2));
        foreach (var kind in Enum.GetValues<OptimizerKind>())
        {
            using var optimizer = RecognitionTask.CreateOptimizer(TrainerTests.SmallRun("unused", 1) with { Optimizer = kind }, [parameter]);
            Assert.True(optimizer is SgdOptimizer or AdamWOptimizer, $"{kind}: {optimizer.GetType().Name}");
        }
    }

    private static IEnumerable<(string Name, nn.Module Network)> TrainedNetworks() =>
        BackboneCatalog.Names.Where(n => n is not ("iresnet50" or "iresnet100"))
            .Select(name => (name, (nn.Module)BackboneCatalog.Create(BackboneCatalog.Defaults(name))))
            .Append(("retinaface", new RetinaFaceMobileNet()))
            .Append(("aofd", new OcclusionAwareDetector()))
            .Append(("uncertainty head", new UncertaintyHead(512 * 7 * 7, 512)));

    [Fact]
    public void TrainingCodeHoldsEveryScalarItPassesToLibtorch()
    {
        TorchRuntime.EnsureLoaded();
        // TorchSharp's own layers in the networks, whose forward the call-site scan cannot reach.
        foreach (var (name, network) in TrainedNetworks())
            using (network)
                Assert.All(network.modules(), m => Assert.False(TemporaryScalarScan.ForwardMakesOne(m.GetType()), $"{name}: {m.GetType().Name}.forward"));
        Assert.True(TemporaryScalarScan.ForwardMakesOne(typeof(BatchNorm2d)));

        // The scan itself: it finds what it must (a temporary, a Scalar-making TorchSharp call, an undisposed local).
        var planted = TemporaryScalarScan.Find(typeof(ScalarLifetimeTests).Assembly).Where(line => line.Contains(nameof(PlantedTemporaries))).ToList();
        Assert.Contains(planted, line => line.Contains("::Temporary ") && line.EndsWith("temporary Scalar"));
        Assert.Contains(planted, line => line.Contains("::Plus ") && line.Contains("op_Addition makes a temporary Scalar inside"));
        Assert.Contains(planted, line => line.Contains("::Square ") && line.Contains("square makes a temporary Scalar inside"));
        Assert.Contains(planted, line => line.Contains("::Undisposed ") && line.EndsWith("never disposed"));
        Assert.Contains(planted, line => line.Contains("::AsTensor ") && line.EndsWith("(TorchSharp throws)"));
        Assert.DoesNotContain(planted, line => line.Contains("::Held "));
        Assert.Equal(5, planted.Count);
        // OwnedScalars.Hold makes the Scalars its list keeps until it is disposed: the one place a local is the point.
        foreach (var assembly in new[] { typeof(PartialFc).Assembly, typeof(Cli.CliRunner).Assembly })
        {
            var found = TemporaryScalarScan.Find(assembly).Where(line => !line.StartsWith($"{typeof(OwnedScalars).FullName}::{nameof(OwnedScalars.Hold)} ")).ToList();
            Assert.Empty(found);
        }
    }

    /// <summary>What <see cref="TemporaryScalarScan"/> must flag, and one it must not.</summary>
    private static class PlantedTemporaries
    {
        public static Tensor Temporary(Tensor x) => x.mul(2.0);
        public static Tensor Plus(Tensor x) => x + x;
        public static Tensor Square(Tensor x) => x.square();

        public static Tensor Undisposed(Tensor x)
        {
            TorchSharp.Scalar two = 2.0;
            return x.mul(two);
        }

        public static Tensor AsTensor(Tensor x) => pow(RootedScalars.Two, x);

        public static Tensor Held(Tensor x)
        {
            using TorchSharp.Scalar two = 2.0;
            return x.mul(two).add(x, RootedScalars.One);
        }
    }
}
