using System.CommandLine;
using System.Diagnostics;
using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Heads;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench classifier` (alias `partial-fc`): one training step of a small fixed network (512 -> 512 -> d, BN)
/// over frozen random inputs, then the classifier: the full softmax (Partial FC's blocked kernel at rate 1, exact;
/// or, as full-autograd, the trainer's autograd classifier and SGD), Partial FC, or FFC (probe and gallery networks, the
/// EMA, the pair and instance labels, the pool's two passes). Reports ms per step, the process's
/// peak RSS and the class-side memory (centres with their gradient and momentum, or the pool). Run one configuration
/// per process so peak RSS belongs to it.
/// </summary>
internal static class BenchClassifierCommand
{
    private const int InputSize = 512;

    public static Command Create()
    {
        var method = new Option<string>("--method") { Description = "full (every centre, blocked kernel), full-autograd (every centre, autograd), pfc or ffc.", DefaultValueFactory = _ => "pfc" };
        method.AcceptOnlyFromAmong("full", "full-autograd", "pfc", "ffc");
        var classes = new Option<long>("--classes") { Description = "Number of classes (identities).", Required = true };
        var rate = new Option<double>("--rate") { Description = "Partial FC sample rate in (0, 1].", DefaultValueFactory = _ => 0.1 };
        var pool = new Option<double>("--pool-size") { Description = "FFC pool: a count of identities, or a fraction of the classes (below 1).", DefaultValueFactory = _ => 0.1 };
        var batch = new Option<int>("--batch", "--batch-size") { Description = "Batch size (FFC adds batch / 2 identity pairs).", DefaultValueFactory = _ => 128 }.AtLeast(2);
        var dim = new Option<int>("--dim") { Description = "Embedding size.", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var steps = new Option<int>("--steps") { Description = "Timed steps after one warm-up step.", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var shards = new Option<int>("--shards") { Description = "Partial FC shards.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var full = new Option<bool>("--full") { Description = "Same as --method full (bench partial-fc's spelling).", Hidden = true };
        var fcDtype = new Option<string?>("--fc-dtype") { Description = "Partial FC centre storage: fp32 or fp16 (math stays fp32). [default: fp32]" };
        fcDtype.AcceptOnlyFromAmong("fp32", "fp16");
        var json = new Option<bool>("--json") { Description = "Print JSON: ms_per_step, peak_rss_mb, class_memory_mb, classes, and the settings." };
        var command = new Command("classifier", "Measure one training step of the full softmax, Partial FC or FFC on a small network.")
            { method, classes, rate, pool, batch, dim, steps, shards, full, fcDtype, json };
        command.Aliases.Add("partial-fc");
        command.SetAction(parse =>
        {
            string kind = parse.GetValue(full) ? "full-autograd" : parse.GetValue(method)!;
            long c = parse.GetValue(classes);
            int n = parse.GetValue(batch), d = parse.GetValue(dim), timed = parse.GetValue(steps);
            double r = parse.GetValue(rate), q = parse.GetValue(pool);
            if (c < 2) throw new UserErrorException($"--classes must be at least 2 (got {c}).");
            if (kind == "pfc" && !(r > 0 && r <= 1)) throw new UserErrorException($"--rate must be in (0, 1] (got {r}).");
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            if (kind != "pfc" && (Given(rate) || Given(fcDtype) || Given(shards)))
                throw new UserErrorException($"--rate, --fc-dtype and --shards are Partial FC's; --method {kind} takes none of them.");
            if (kind != "ffc" && Given(pool)) throw new UserErrorException("--pool-size is FFC's: use it with --method ffc.");
            if (kind == "full-autograd" && c > int.MaxValue) throw new UserErrorException($"--method full takes at most {int.MaxValue} classes.");
            int entries = 0;
            if (kind == "ffc")
            {
                if (!(q > 0) || (q >= 1 && q != Math.Floor(q))) throw new UserErrorException($"--pool-size must be a fraction in (0, 1) or a whole number (got {q}).");
                long wanted = q >= 1 ? (long)q : Math.Max(1, (long)Math.Round(q * c));
                if (wanted > c) throw new UserErrorException($"--pool-size {wanted} exceeds the {c} classes.");
                if (wanted > int.MaxValue) throw new UserErrorException($"--pool-size {wanted} is more entries than a pool holds ({int.MaxValue}).");
                entries = (int)wanted;
                if (n % 2 != 0) throw new UserErrorException($"--batch must be even with --method ffc (got {n}).");
            }
            TorchRuntime.EnsureLoaded();
            torch.manual_seed(0);
            var storage = parse.GetValue(fcDtype) == "fp16" ? CentreStorage.Float16 : CentreStorage.Float32;
            using var bench = kind switch
            {
                "full-autograd" => FullAutograd(c, n, d),
                "full" => PartialFc(c, n, d, 1, 1, CentreStorage.Float32),
                "pfc" => PartialFc(c, n, d, r, parse.GetValue(shards), storage),
                _ => Ffc(c, n, d, entries),
            };
            bench.Step();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < timed; i++) bench.Step();
            var result = new
            {
                Method = kind, Classes = c, Rate = kind == "pfc" ? r : kind.StartsWith("full", StringComparison.Ordinal) ? 1.0 : (double?)null, PoolSize = kind == "ffc" ? entries : (int?)null,
                Batch = n, Dim = d, FcDtype = kind == "pfc" ? parse.GetValue(fcDtype) ?? "fp32" : kind.StartsWith("full", StringComparison.Ordinal) ? "fp32" : null,
                Shards = kind == "pfc" ? parse.GetValue(shards) : (int?)null, Steps = timed,
                MsPerStep = Math.Round(clock.Elapsed.TotalMilliseconds / timed, 1),
                PeakRssMb = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0),
                ClassMemoryMb = Math.Round(bench.ClassBytes() / 1048576.0, 1),
            };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else writer.WriteLine($"{kind} C={c} B={n} d={d}{(kind == "pfc" ? $" r={r} {result.FcDtype}" : kind == "ffc" ? $" Q={entries}" : "")}: " +
                $"{result.MsPerStep} ms/step, peak RSS {result.PeakRssMb} MB, class memory {result.ClassMemoryMb} MB");
            return 0;
        });
        return command;
    }

    /// <summary>The small fixed network every method trains: two linear layers with BatchNorm.</summary>
    private static nn.Module<Tensor, Tensor> Network(int dim) =>
        nn.Sequential(nn.Linear(InputSize, 512), BatchNormLayer.Features(512), nn.ReLU(), nn.Linear(512, dim), BatchNormLayer.Features(dim));

    private static Bench FullAutograd(long classes, int batch, int dim)
    {
        var network = Network(dim);
        var classifier = new MarginSoftmaxClassifier((int)classes, dim, CombinedMarginHead.ArcFace());
        var optimizer = new SgdOptimizer(network.parameters().Concat(classifier.parameters()), 0.1, momentum: 0.9);
        var inputs = torch.randn(batch, InputSize);
        var generator = new Generator(1);
        return new Bench(() =>
        {
            using var scope = torch.NewDisposeScope();
            var labels = torch.randint(0, classes, [batch], generator: generator);
            optimizer.zero_grad();
            classifier.call(network.call(inputs), labels).backward();
            optimizer.step();
        },
        // Weights, their gradient and SGD's momentum buffer.
        () => 3L * classes * dim * sizeof(float),
        network, classifier, optimizer, inputs, generator);
    }

    private static Bench PartialFc(long classes, int batch, int dim, double rate, int shards, CentreStorage storage)
    {
        var network = Network(dim);
        var pfc = new PartialFc(classes, dim, CombinedMarginHead.ArcFace(), new PartialFcOptions { SampleRate = rate, Shards = shards, Storage = storage });
        var optimizer = new SgdOptimizer(network.parameters(), 0.1, momentum: 0.9);
        var inputs = torch.randn(batch, InputSize);
        var generator = new Generator(1);
        return new Bench(() =>
        {
            using var scope = torch.NewDisposeScope();
            var labels = torch.randint(0, classes, [batch], generator: generator);
            optimizer.zero_grad();
            var features = network.call(inputs);
            pfc.ForwardBackward(features, labels, out var gradient);
            features.backward([gradient]);
            optimizer.step();
            pfc.Step(0.1, 0.9, 5e-4);
        },
        // Centres, momentum and each row's last update step.
        () => pfc.Shards.Sum(s => s.Centres.numel() * s.Centres.element_size() + s.Momentum.numel() * s.Momentum.element_size() + s.Updated.numel() * s.Updated.element_size()),
        network, pfc, optimizer, inputs, generator);
    }

    private static Bench Ffc(long classes, int batch, int dim, int poolSize)
    {
        var probe = Network(dim);
        var gallery = Network(dim);
        using (torch.no_grad())
            foreach (var (g, p) in gallery.parameters().Zip(probe.parameters())) { g.copy_(p); g.requires_grad = false; }
        var ffc = new FfcClassifier(poolSize, dim, CombinedMarginHead.ArcFace());
        var optimizer = new SgdOptimizer(probe.parameters(), 0.1, momentum: 0.9);
        // Two halves of batch inputs each: one image of each of batch / 2 pairs, then half of the batch instances.
        var x = torch.randn(batch, InputSize);
        var y = torch.randn(batch, InputSize);
        var random = new Random(1);
        return new Bench(() =>
        {
            using var scope = torch.NewDisposeScope();
            var pairs = Enumerable.Range(0, batch / 2).Select(_ => random.NextInt64(classes)).ToArray();
            long[] Half() => [.. pairs, .. Enumerable.Range(0, batch - batch / 2).Select(_ => random.NextInt64(classes))];
            var labelsX = torch.tensor(Half());
            var labelsY = torch.tensor(Half());
            optimizer.zero_grad();
            FfcClassifier.UpdateGallery(gallery, probe, 0.99);
            Tensor gx, gy;
            using (torch.no_grad()) { gy = gallery.call(y); gx = gallery.call(x); }
            ffc.Step(probe.call(x), labelsX, gx, probe.call(y), labelsY, gy).backward();
            optimizer.step();
        },
        () => ffc.Pool.Bytes,
        probe, gallery, ffc, optimizer, x, y);
    }

    /// <summary>One configuration's step, its class-side bytes, and what it owns.</summary>
    private sealed class Bench(Action step, Func<long> classBytes, params IDisposable[] owned) : IDisposable
    {
        public void Step() => step();

        public long ClassBytes() => classBytes();

        public void Dispose()
        {
            foreach (var item in owned) item.Dispose();
        }
    }
}
