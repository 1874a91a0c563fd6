using System.CommandLine;
using FaceForge.Training.Uncertainty;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge train-uncertainty --model MODEL --data DIR --out MODEL2`: Probabilistic Face Embeddings' head on a frozen
/// model. MODEL2 is a model file; its run folder (config, metrics, checkpoints, report) is MODEL2.run beside it.
/// </summary>
internal static class TrainUncertaintyCommand
{
    private const string RunSuffix = ".run";

    public static Command Create()
    {
        var run = new RunCommandLine<UncertaintyTrainingConfig>(
            [nameof(UncertaintyTrainingConfig.Epochs), nameof(UncertaintyTrainingConfig.MaxSteps), nameof(UncertaintyTrainingConfig.MaxSeconds),
             nameof(UncertaintyTrainingConfig.LogEvery), nameof(UncertaintyTrainingConfig.CheckpointEvery), nameof(UncertaintyTrainingConfig.MaxBadSteps),
             nameof(UncertaintyTrainingConfig.CacheMegabytes)]);
        run.Output.Description = $"The model file to write (the backbone of --model plus the uncertainty head); the run folder is that path + '{RunSuffix}'.";
        run.Resume.Description = $"Continue the run in this folder (MODEL2{RunSuffix}) from its last checkpoint.";
        var command = new Command("train-uncertainty", "Train a Probabilistic Face Embeddings uncertainty head on a frozen recognition model (mutual likelihood loss, P identities x K images per batch).");
        run.AddTo(command);
        command.SetAction(parse =>
        {
            var (config, given, resuming) = run.Resolve(parse, UncertaintyTrainingConfig.Load, c =>
            {
                if (string.IsNullOrWhiteSpace(c.Model)) throw new UserErrorException("--model is required (or a config file with a \"model\" key, or --resume RUN_DIR).");
                if (string.IsNullOrWhiteSpace(c.Data)) throw new UserErrorException("--data is required (or a config file with a \"data\" key, or --resume RUN_DIR).");
                run.RequireFile(nameof(UncertaintyTrainingConfig.Model), c.Model);
                if (!Directory.Exists(c.Data) && !File.Exists(c.Data) && !File.Exists(c.Data + ".rec"))
                    throw new UserErrorException($"--data: '{c.Data}' does not exist.");
            }, c => c.Validate());
            bool force = parse.GetValue(run.Force);
            // config.json keeps absolute paths, so --resume works from any directory.
            if (!resuming) config = config with { Model = Path.GetFullPath(config.Model!), Data = Path.GetFullPath(config.Data!) };
            string runDir = resuming ? given : given + RunSuffix;
            string? modelPath = resuming ? (given.TrimEnd('/').EndsWith(RunSuffix, StringComparison.Ordinal) ? given.TrimEnd('/')[..^RunSuffix.Length] : null) : given;
            if (!resuming)
            {
                if (Path.GetDirectoryName(Path.GetFullPath(given)) is { } parent && !Directory.Exists(parent))
                    throw new UserErrorException($"--out: the folder of '{given}' does not exist.");
                if (Directory.Exists(given)) throw new UserErrorException($"--out: '{given}' is a folder; give the model file to write (its run folder will be '{runDir}').");
                if (Path.GetFullPath(given) == Path.GetFullPath(config.Model!)) throw new UserErrorException($"--out: '{given}' is the --model being read; write the new model elsewhere.");
                if (File.Exists(given) && !force) throw new UserErrorException($"--out: '{given}' exists. Choose another path, or pass --force to overwrite it.");
            }
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            if (!resuming && File.Exists(config.Model) && FaceForge.Models.ModelFile.ReadInfo(config.Model!).Quality == FaceForge.Models.QualityKind.Magnitude)
                progress.Warn("the model's quality is its magnitude (MagFace); the new model carries the uncertainty head's quality instead");
            var trainer = new UncertaintyTrainer(config, runDir);
            var result = TrainingProgress.Run(progress, "training uncertainty", (p, c) => trainer.Run(resuming, force, p, c),
                s => $"epoch {s.Epoch} loss {s.Loss:0.0} log sigma^2 {s.Metrics?.GetValueOrDefault("log_sigma_sq_mean"):0.00} {s.ImagesPerSecond:0} img/s", outValue: modelPath ?? given);
            if (modelPath is not null) AtomicFile.Write(modelPath, stream => { using var source = File.OpenRead(result.ModelPath); source.CopyTo(stream); });
            string written = modelPath ?? result.ModelPath;
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(run.Json))
                JsonOutput.Write(writer, new { Model = written, RunFolder = runDir, result.Steps, FinalLoss = result.Losses.Count > 0 ? result.Losses[^1].Loss : (double?)null, Seconds = Math.Round(result.Seconds, 1) });
            else writer.WriteLine($"trained the uncertainty head {result.Steps} steps in {result.Seconds:0} s; model {written} (run folder {runDir})");
            return 0;
        });
        return command;
    }
}
