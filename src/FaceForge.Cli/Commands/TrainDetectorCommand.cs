using System.CommandLine;
using FaceForge.Training.Detection;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge train-detector`: trains a face detector, by default the occlusion-aware one against adversarial masks.</summary>
internal static class TrainDetectorCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "RetinaFace/WIDER label.txt, or a folder with label.txt, images/ and masks/ (data synth --scenes).", Required = true };
        var images = new Option<string?>("--images") { Description = "Folder the label paths are relative to (default: the label file's folder)." };
        var masks = new Option<string?>("--masks") { Description = "Occlusion masks folder (default: masks/ beside label.txt when present)." };
        var output = new Option<string>("--out") { Description = "Run folder (model.ffm, metrics.jsonl, report.html).", Required = true };
        var arch = new Option<string>("--arch") { Description = $"Detector: {string.Join(", ", DetectorCatalog.Names)}.", DefaultValueFactory = _ => DetectorCatalog.OcclusionAware };
        arch.AcceptOnlyFromAmong([.. DetectorCatalog.Names]);
        var plain = new Option<bool>("--plain") { Description = "Train without the adversarial mask generator (the baseline)." };
        var init = new Option<string?>("--init") { Description = "Detector model to start from (e.g. an imported retinaface-mnet025)." };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var maxSteps = new Option<int>("--max-steps") { Description = "Stop after this many steps (0: no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var maxSeconds = new Option<double>("--max-seconds") { Description = "Stop after this many seconds (0: no limit).", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "SGD learning rate.", DefaultValueFactory = _ => 1e-3 };
        var width = new Option<int>("--width") { Description = "Training width.", DefaultValueFactory = _ => 320 }.AtLeast(32);
        var height = new Option<int>("--height") { Description = "Training height.", DefaultValueFactory = _ => 240 }.AtLeast(32);
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 0 };
        var force = new Option<bool>("--force") { Description = "Overwrite a run folder that already holds a model." };
        var json = new Option<bool>("--json") { Description = "Print JSON (model, steps, seconds)." };
        var command = new Command("train-detector", "Train a face detector; by default the occlusion-aware one (segmentation branch, adversarial feature masks).")
        {
            data, images, masks, output, arch, plain, init, epochs, maxSteps, maxSeconds, batch, lr, width, height, seed, force, json,
        };
        command.SetAction(parse =>
        {
            string run = parse.GetValue(output)!;
            if (File.Exists(Path.Combine(run, "model.ffm")) && !parse.GetValue(force))
                throw new UserErrorException($"'{run}' already holds a trained model; choose another --out, or pass --force to overwrite it.");
            string source = parse.GetValue(data)!;
            if (!File.Exists(source) && !File.Exists(Path.Combine(source, "label.txt")))
                throw new UserErrorException($"--data: '{source}' is neither a label.txt nor a folder holding one.");
            if (parse.GetValue(init) is { } initPath && !File.Exists(initPath)) throw new UserErrorException($"--init: '{initPath}' does not exist.");
            var options = new DetectorTrainingOptions
            {
                Data = source, Images = parse.GetValue(images), Masks = parse.GetValue(masks), Architecture = parse.GetValue(arch)!,
                Adversarial = !parse.GetValue(plain) && parse.GetValue(arch) == DetectorCatalog.OcclusionAware, Init = parse.GetValue(init),
                Epochs = parse.GetValue(epochs), MaxSteps = parse.GetValue(maxSteps), MaxSeconds = parse.GetValue(maxSeconds), BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr), Width = parse.GetValue(width), Height = parse.GetValue(height), Seed = parse.GetValue(seed),
            };
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int steps = 0;
            string model = progress.RunWithCaption("training detector", "step", update =>
                new DetectorTrainer(options, run).Run(new InlineProgress<DetectorTrainingStatus>(s =>
                {
                    steps = s.Step;
                    update(s.Step, s.TotalSteps, $"loss {s.Loss:0.000} masked {s.MaskedLoss:0.000} {s.ImagesPerSecond:0} img/s");
                })));
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { Model = model, Steps = steps, Adversarial = options.Adversarial, Seconds = Math.Round(clock.Elapsed.TotalSeconds, 1) });
            else writer.WriteLine($"trained {steps} steps ({(options.Adversarial ? "adversarial masks" : "plain")}) in {clock.Elapsed.TotalSeconds:0} s; model {model}");
            return 0;
        });
        return command;
    }
}
