using System.CommandLine;
using System.Diagnostics;
using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Heads;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Runtime;
using TorchSharp;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench train`: training and inference throughput of a backbone on fixed random batches (the data
/// pipeline is measured separately by bench pipeline): SGD steps with an ArcFace classifier, then no-grad forwards.
/// </summary>
internal static class BenchTrainCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = $"Backbone: {string.Join(", ", BackboneCatalog.Names)}.", Required = true };
        arch.AcceptOnlyFromAmong([.. BackboneCatalog.Names]);
        var width = new Option<double>("--width") { Description = "Width multiplier.", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 2 warm-up steps).", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var classes = new Option<int>("--classes") { Description = "Classifier classes (CASIA-WebFace: 10575).", DefaultValueFactory = _ => 10575 }.AtLeast(2);
        var layout = new Option<string>("--layout") { Description = "Memory layout of the batch: channels-last (what faceforge train uses) or nchw.", DefaultValueFactory = _ => "channels-last" };
        layout.AcceptOnlyFromAmong("channels-last", "nchw");
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("train", "Measure training and inference images/s of a backbone.") { arch, width, batch, steps, classes, layout, json };
        command.SetAction(parse =>
        {
            TorchRuntime.EnsureLoaded();
            torch.manual_seed(0);
            var info = BackboneCatalog.Defaults(parse.GetValue(arch)!);
            if (!(parse.GetValue(width) > 0 && parse.GetValue(width) <= 16)) throw new UserErrorException($"--width: {parse.GetValue(width)} is not a width multiplier in (0, 16].");
            if (parse.GetValue(width) != 1) info = info with { Options = new() { ["width"] = parse.GetValue(width) } };
            int n = parse.GetValue(batch), timed = parse.GetValue(steps);
            using var network = BackboneCatalog.Create(info);
            using var classifier = new MarginSoftmaxClassifier(parse.GetValue(classes), info.EmbeddingSize, CombinedMarginHead.ArcFace());
            using var optimizer = new SgdOptimizer(network.parameters().Concat(classifier.parameters()), 0.01, momentum: 0.9);
            using var nchw = torch.randn(n, 3, info.InputHeight, info.InputWidth);
            bool channelsLast = parse.GetValue(layout) != "nchw" && ChannelsLast.Enabled;
            using var images = channelsLast ? ChannelsLast.From(nchw) : nchw.clone();
            using var labels = torch.randint(0, parse.GetValue(classes), [n], dtype: torch.ScalarType.Int64);
            double Time(Action step)
            {
                for (int i = 0; i < 2; i++) step();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < timed; i++) step();
                return n * timed / clock.Elapsed.TotalSeconds;
            }
            network.train();
            double train = Time(() =>
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                classifier.call(network.call(images), labels).backward();
                optimizer.step();
            });
            network.eval();
            double infer = Time(() =>
            {
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                network.call(images);
            });
            var result = new
            {
                Arch = info.Architecture, Width = parse.GetValue(width), Input = $"{info.InputWidth}x{info.InputHeight}", Batch = n, Steps = timed,
                // What ran: channels-last is refused where the start-up check found libtorch's kernels wrong.
                Layout = channelsLast ? "channels-last" : parse.GetValue(layout) == "nchw" ? "nchw" : "nchw (channels-last refused by the kernel check)",
                TrainImagesPerSecond = Math.Round(train, 1), InferenceImagesPerSecond = Math.Round(infer, 1),
                PeakRssMb = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0), TorchThreads = torch.get_num_threads(), MallocTuned = FaceForge.Training.Runtime.AllocatorTuning.Applied,
            };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else writer.WriteLine($"{result.Arch} {result.Input} batch {n}: train {result.TrainImagesPerSecond} img/s, inference {result.InferenceImagesPerSecond} img/s, peak RSS {result.PeakRssMb} MB");
            return 0;
        });
        return command;
    }
}
