using System.CommandLine;
using System.Diagnostics;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Heads;
using FaceForge.Training.Runtime;
using TorchSharp;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench partial-fc`: the classifier alone on frozen random features: ms per step (forward, backward,
/// update) and the process's peak RSS, for Partial FC at a sample rate or (with --full) the plain full softmax
/// trained by autograd and SGD. Run one configuration per process so peak RSS belongs to it.
/// </summary>
internal static class BenchPartialFcCommand
{
    public static Command Create()
    {
        var classes = new Option<int>("--classes") { Description = "Number of classes.", Required = true }.AtLeast(2);
        var rate = new Option<double>("--rate") { Description = "Sample rate in (0, 1].", DefaultValueFactory = _ => 0.1 };
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Batch size.", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var dim = new Option<int>("--dim") { Description = "Embedding size.", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var steps = new Option<int>("--steps") { Description = "Timed steps after one warm-up step.", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var shards = new Option<int>("--shards") { Description = "Shards.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var full = new Option<bool>("--full") { Description = "Measure the full softmax (MarginSoftmaxClassifier, autograd, SGD) instead." };
        var fcDtype = new Option<string?>("--fc-dtype") { Description = "Class-centre storage: fp32 or fp16 (math stays fp32). [default: fp32]" };
        fcDtype.AcceptOnlyFromAmong("fp32", "fp16");
        var json = new Option<bool>("--json") { Description = "Print JSON: ms_per_step, peak_rss_mb, classes, rate." };
        var command = new Command("partial-fc", "Measure Partial FC against the full softmax (classifier only).") { classes, rate, batch, dim, steps, shards, full, fcDtype, json };
        command.SetAction(parse =>
        {
            TorchRuntime.EnsureLoaded();
            torch.manual_seed(0);
            int c = parse.GetValue(classes), n = parse.GetValue(batch), d = parse.GetValue(dim), timed = parse.GetValue(steps);
            double r = parse.GetValue(rate);
            bool isFull = parse.GetValue(full);
            var storage = parse.GetValue(fcDtype) == "fp16" ? FaceForge.Training.Classifiers.CentreStorage.Float16 : FaceForge.Training.Classifiers.CentreStorage.Float32;
            using var features = torch.randn(n, d);
            using var labels = torch.randint(0, c, [n], dtype: torch.ScalarType.Int64);
            Action step;
            IDisposable owner;
            if (isFull)
            {
                var classifier = new MarginSoftmaxClassifier(c, d, CombinedMarginHead.ArcFace());
                var optimizer = torch.optim.SGD(classifier.parameters(), 0.1, momentum: 0.9);
                var input = features.clone().requires_grad_(true);
                step = () =>
                {
                    using var scope = torch.NewDisposeScope();
                    optimizer.zero_grad();
                    classifier.call(input, labels).backward();
                    optimizer.step();
                };
                owner = classifier;
            }
            else
            {
                var pfc = new PartialFc(c, d, CombinedMarginHead.ArcFace(), new PartialFcOptions { SampleRate = r, Shards = parse.GetValue(shards), Storage = storage });
                step = () =>
                {
                    using var scope = torch.NewDisposeScope();
                    pfc.ForwardBackward(features, labels, out _);
                    pfc.Step(0.1, 0.9, 5e-4);
                };
                owner = pfc;
            }
            using (owner)
            {
                step();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < timed; i++) step();
                var result = new
                {
                    Method = isFull ? "full-softmax" : "partial-fc", Classes = c, Rate = isFull ? 1.0 : r, Batch = n, Dim = d, FcDtype = isFull ? "fp32" : parse.GetValue(fcDtype) ?? "fp32",
                    Shards = isFull ? 1 : parse.GetValue(shards), Steps = timed, MsPerStep = Math.Round(clock.Elapsed.TotalMilliseconds / timed, 1),
                    PeakRssMb = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0),
                };
                var writer = parse.InvocationConfiguration.Output;
                if (parse.GetValue(json)) JsonOutput.Write(writer, result);
                else writer.WriteLine($"{result.Method} C={c} r={result.Rate} B={n} {result.FcDtype}: {result.MsPerStep} ms/step, peak RSS {result.PeakRssMb} MB");
            }
            return 0;
        });
        return command;
    }
}
