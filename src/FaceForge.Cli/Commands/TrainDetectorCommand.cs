using System.CommandLine;
using FaceForge.Training.Detection;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge train-detector`: trains a face detector, by default the occlusion-aware one against adversarial masks (one option per config key).</summary>
internal static class TrainDetectorCommand
{
    public static Command Create()
    {
        var settings = new SettingsBinder<DetectorTrainingConfig>();
        var output = new Option<string?>("--out") { Description = "Run folder (config.json, metrics.jsonl, checkpoints/, model.ffm, report.html)." };
        var config = new Option<string?>("--config") { Description = "JSON config (snake_case keys); options given here override it." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint (uses its config.json)." };
        var force = new Option<bool>("--force") { Description = "Overwrite a finished or started run in --out." };
        var json = new Option<bool>("--json") { Description = "Print JSON (model, steps, adversarial, seconds)." };
        var command = new Command("train-detector", "Train a face detector; by default the occlusion-aware one (segmentation branch, adversarial feature masks).")
        {
            output, config, resume, force, json,
        };
        foreach (var option in settings.Options) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string? resumeDir = parse.GetValue(resume);
            string run = resumeDir ?? parse.GetValue(output) ?? throw new UserErrorException("--out is required (or --resume RUN_DIR).");
            DetectorTrainingConfig effective;
            if (resumeDir is not null)
            {
                string saved = Path.Combine(resumeDir, "config.json");
                if (!File.Exists(saved)) throw new UserErrorException($"--resume: '{resumeDir}' holds no config.json: not a FaceForge run folder.");
                if (parse.GetValue(output) is not null || parse.GetValue(force) || parse.GetValue(config) is not null)
                    throw new UserErrorException("--out, --force and --config cannot be given with --resume: the run continues in its own folder with its config.json.");
                if (settings.Options.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } given)
                    throw new UserErrorException($"{given.Name} cannot be given with --resume: the run's config.json is its config.");
                effective = DetectorTrainingConfig.Load(saved);
            }
            else
            {
                var start = parse.GetValue(config) is { } file
                    ? DetectorTrainingConfig.Load(File.Exists(file) ? file : throw new UserErrorException($"--config: '{file}' does not exist."))
                    : new DetectorTrainingConfig();
                effective = settings.Apply(parse, start);
                string source = effective.Data;
                if (string.IsNullOrWhiteSpace(source)) throw new UserErrorException("--data is required (or a config file with a \"data\" key, or --resume RUN_DIR).");
                if (!File.Exists(source) && !File.Exists(Path.Combine(source, "label.txt")))
                    throw new UserErrorException($"--data: '{source}' is neither a label.txt nor a folder holding one.");
                if (effective.Init is { } initPath && !File.Exists(initPath)) throw new UserErrorException($"--init: '{initPath}' does not exist.");
            }
            settings.Validate(effective.Validate);
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var trainer = new DetectorTrainer(effective, run);
            var result = TrainingProgress.Run(progress, "training detector", (p, c) => trainer.Run(resumeDir is not null, parse.GetValue(force), p, c),
                s => $"loss {s.Loss:0.000} masked {s.Metrics?.GetValueOrDefault("masked_loss"):0.000} {s.ImagesPerSecond:0} img/s");
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { Model = result.ModelPath, result.Steps, effective.Adversarial, Seconds = Math.Round(result.Seconds, 1) });
            else writer.WriteLine($"trained {result.Steps} steps ({(effective.Adversarial ? "adversarial masks" : "plain")}) in {result.Seconds:0} s; model {result.ModelPath}");
            return 0;
        });
        return command;
    }
}
