using System.CommandLine;
using FaceForge.Training.Detection;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge train-detector`: trains a face detector, by default the occlusion-aware one against adversarial masks (one option per config key).</summary>
internal static class TrainDetectorCommand
{
    public static Command Create()
    {
        // As for train: a resumed run may change when it stops and how it reports, not what it learns.
        var run = new RunCommandLine<DetectorTrainingConfig>(
            [nameof(DetectorTrainingConfig.Epochs), nameof(DetectorTrainingConfig.MaxSteps), nameof(DetectorTrainingConfig.MaxSeconds),
             nameof(DetectorTrainingConfig.LogEvery), nameof(DetectorTrainingConfig.CheckpointEvery), nameof(DetectorTrainingConfig.MaxBadSteps)]);
        var command = new Command("train-detector", "Train a face detector; by default the occlusion-aware one (segmentation branch, adversarial feature masks).");
        run.AddTo(command);
        command.SetAction(parse =>
        {
            var (effective, runDir, resuming) = run.Resolve(parse, DetectorTrainingConfig.Load, config =>
            {
                if (string.IsNullOrWhiteSpace(config.Data)) throw new UserErrorException("--data is required (or a config file with a \"data\" key, or --resume RUN_DIR).");
                if (!File.Exists(config.Data) && !File.Exists(Path.Combine(config.Data, "label.txt")))
                    throw new UserErrorException($"--data: '{config.Data}' is neither a label.txt nor a folder holding one.");
                run.RequireFile(nameof(DetectorTrainingConfig.Init), config.Init);
            }, config => config.Validate());
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var trainer = new DetectorTrainer(effective, runDir);
            var result = TrainingProgress.Run(progress, "training detector", (p, c) => trainer.Run(resuming, parse.GetValue(run.Force), p, c),
                s => $"loss {s.Loss:0.000} masked {s.Metrics?.GetValueOrDefault("masked_loss"):0.000} {s.ImagesPerSecond:0} img/s");
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(run.Json)) JsonOutput.Write(writer, new { Model = result.ModelPath, result.Steps, effective.Adversarial, Seconds = Math.Round(result.Seconds, 1) });
            else writer.WriteLine($"trained {result.Steps} steps ({(effective.Adversarial ? "adversarial masks" : "plain")}) in {result.Seconds:0} s; model {result.ModelPath}");
            return 0;
        });
        return command;
    }
}
