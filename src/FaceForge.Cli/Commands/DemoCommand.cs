using System.CommandLine;
using FaceForge.Data;
using FaceForge.Embedding;
using FaceForge.Evaluation;
using FaceForge.Synthesis;
using FaceForge.Training.Recognition;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge demo`, the README's first command: synthesises identities, trains a small VarGFaceNet with ArcFace
/// (AdamW, small margin, 300 identities x 16 images for 4 epochs: the recipe of docs/benchmarks.md, "Demo") for a few
/// minutes, evaluates 10-fold verification on held-out synthetic identities and writes report.html.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Working folder (synthetic data, run folder, report).", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "faceforge-demo") };
        var identities = new Option<int>("--identities") { Description = "Training identities.", DefaultValueFactory = _ => 300 }.AtLeast(2);
        var images = new Option<int>("--images") { Description = "Images per training identity (16 seen 4 times beat 8 seen 8 times: docs/benchmarks.md, \"Demo\").", DefaultValueFactory = _ => 16 }.AtLeast(2);
        var testIdentities = new Option<int>("--test-identities") { Description = "Held-out identities for verification (6 images each; 10 folds of N / 2 genuine and N / 2 impostor pairs, at least 30 each).", DefaultValueFactory = _ => 300 }.AtLeast(20);
        var epochs = new Option<int>("--epochs") { Description = "Training epochs (the LR schedule spans them).", DefaultValueFactory = _ => 4 }.AtLeast(1);
        var seconds = new Option<double>("--max-seconds", "--seconds") { Description = "Training time cap in seconds, 0 for none (past it the schedule is cut short, and the figure then depends on the machine's speed).", DefaultValueFactory = _ => 0 };
        var scale = new Option<double>("--scale") { Description = "Logit scale s, for every head (train's default for ArcFace; train gives CosFace 64).", DefaultValueFactory = _ => TrainingConfig.DefaultScale(HeadKind.ArcFace) };
        var margin = new Option<double>("--margin") { Description = "Margin m (ArcFace: radians; CosFace: cosine).", DefaultValueFactory = _ => 0.1 };
        var width = new Option<double>("--width") { Description = "VarGFaceNet width multiplier.", DefaultValueFactory = _ => 0.25 };
        var batchSize = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => 64 }.AtLeast(2);
        var learningRate = new Option<double>("--lr") { Description = "Peak learning rate (half an epoch of warmup, polynomial decay).", DefaultValueFactory = _ => 0.002 };
        var head = new Option<HeadKind>("--head") { Description = "Margin head, as train's --head (the recipe was chosen with ArcFace).", DefaultValueFactory = _ => HeadKind.ArcFace };
        var optimizer = new Option<OptimizerKind>("--optimizer") { Description = "Optimizer: AdamW, or Sgd (momentum 0.9; --lr and --weight-decay default to AdamW's values: with Sgd pass e.g. --lr 0.1 --weight-decay 5e-4).", DefaultValueFactory = _ => OptimizerKind.AdamW };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay (AdamW: decoupled).", DefaultValueFactory = _ => 0.05 };
        var colorJitter = new Option<double>("--color-jitter-probability") { Description = "Probability of brightness, contrast and saturation jitter per training image, as train's.", DefaultValueFactory = _ => 0 };
        var alignmentJitter = new Option<double>("--alignment-jitter") { Description = "Size of a random scale, rotation and shift per training image, as train's.", DefaultValueFactory = _ => 0 };
        var replicas = new Option<int>("--replicas") { Description = "Copies of the network training one piece of each batch on a thread each, as train's (one libtorch thread per copy: the figure does not depend on the machine's core count).", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print JSON: the keys of eval verify plus seconds." };
        var command = new Command("demo", "Train and evaluate a small model on embedded synthetic faces (the main job).")
        {
            output, identities, images, testIdentities, epochs, seconds, scale, margin, width, batchSize, learningRate, head, optimizer, weightDecay, colorJitter, alignmentJitter, replicas, seed, json,
        };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string dir = parse.GetValue(output)!;
            int s = parse.GetValue(seed);
            string trainFaces = Path.GetFullPath(Path.Combine(dir, "train", "faces"));
            var config = new TrainingConfig
            {
                Data = trainFaces, Arch = "vargfacenet", Width = parse.GetValue(width), Head = parse.GetValue(head), Epochs = parse.GetValue(epochs), WarmupEpochs = 0.5,
                Scale = parse.GetValue(scale), Margin = parse.GetValue(margin),
                MaxSeconds = parse.GetValue(seconds), BatchSize = parse.GetValue(batchSize), LearningRate = parse.GetValue(learningRate), Optimizer = parse.GetValue(optimizer), WeightDecay = parse.GetValue(weightDecay),
                ColorJitterProbability = parse.GetValue(colorJitter), AlignmentJitter = parse.GetValue(alignmentJitter), Replicas = parse.GetValue(replicas), Seed = s, CheckpointEvery = 0, LogEvery = 5,
            };
            // Checked before anything is written; messages name the demo's options (they share train's names).
            new SettingsBinder<TrainingConfig>().Validate(config.Validate);
            Synthesise(new SyntheticFaceOptions { Identities = parse.GetValue(identities), ImagesPerIdentity = parse.GetValue(images), Seed = s }, Path.Combine(dir, "train"), progress);
            // A different seed gives different identities: the test people are never seen in training.
            string testDir = Synthesise(new SyntheticFaceOptions { Identities = parse.GetValue(testIdentities), ImagesPerIdentity = 6, Seed = s + 1_000_003 }, Path.Combine(dir, "test"), progress);
            var result = TrainingProgress.Recognition(config, Path.Combine(dir, "run"), resume: false, force: true, progress);

            using var testSet = ImageFolderDataset.Open(testDir);
            var items = Enumerable.Range(0, testSet.Count).Select(i => (testSet.RelativePath(i), testSet.GetLabel(i))).ToList();
            // 300 identities give 3,000 pairs: with 600 (the first demo's) a run's figure moved by 1.5 to 2.8 points with
            // the draw of pairs alone (docs/benchmarks.md, "Demo"). Pairs are drawn with replacement (some repeat).
            int perFold = Math.Max(30, parse.GetValue(testIdentities) / 2);
            var protocol = new VerificationProtocol(PairBuilder.Build(items, folds: 10, pairsPerClassPerFold: perFold, seed: s));
            using var embedder = ModelInputs.OpenEmbedder(result.ModelPath, "--model");
            var source = new AlignedImageSource(testDir, null, embedder.Info.AlignmentTemplate);
            var outcome = progress.Run("embedding test faces", protocol.Images.Count, "img", p => protocol.Run(embedder, source.Load, p));
            var report = outcome.Report;
            string reportDir = Path.Combine(dir, "report");
            VerificationReportWriter.Write(reportDir, $"FaceForge demo: VarGFaceNet + {config.Head} on synthetic faces", report, outcome.Scores, outcome.Same, result.Losses,
                new Dictionary<string, string>
                {
                    ["training"] = $"{parse.GetValue(identities)} identities x {parse.GetValue(images)} images, {result.Steps} steps in {result.Seconds:0} s",
                    ["test"] = $"{parse.GetValue(testIdentities)} held-out identities, {protocol.Pairs.Count} pairs in 10 identity-disjoint folds",
                    ["model"] = result.ModelPath,
                });
            var writer = parse.InvocationConfiguration.Output;
            VerificationOutput.Print(parse, report, clock.Elapsed.TotalSeconds, new { Report = Path.Combine(reportDir, "report.html"), Model = result.ModelPath, TrainingSteps = result.Steps });
            if (!parse.GetValue(json)) writer.WriteLine($"report: {Path.Combine(reportDir, "report.html")}");
            return 0;
        });
        return command;
    }

    /// <summary>Writes a synthetic recognition set to DIR/faces and returns that folder.</summary>
    private static string Synthesise(SyntheticFaceOptions options, string dir, ProgressReporter progress)
    {
        string faces = Path.Combine(dir, "faces");
        // The demo's own folder: a previous demo's faces (perhaps of other settings) must not mix with these.
        if (Directory.Exists(faces)) Directory.Delete(faces, recursive: true);
        progress.Run("synthesising faces", options.Identities * options.ImagesPerIdentity, "img", p => new SyntheticFaces(options).WriteRecognitionSet(faces, p));
        return Path.GetFullPath(faces);
    }
}
