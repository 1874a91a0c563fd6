using FaceForge.Training.Distributed;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;

namespace FaceForge.Cli;

/// <summary>Runs a trainer under a progress bar and turns the host's user-facing failures into one-line errors with the options that fix them.</summary>
internal static class TrainingProgress
{
    /// <summary>Runs a recognition training under a progress bar.</summary>
    public static TrainingResult Recognition(TrainingConfig config, string runDir, bool resume, bool force, ProgressReporter progress, ICommunicator? world = null)
    {
        var trainer = new Trainer(config, runDir, world);
        return Run(progress, "training", (p, c) => trainer.Run(resume, force, p, c),
            s => $"epoch {s.Epoch} loss {s.Loss:0.000} lr {s.LearningRate:0.####} {s.ImagesPerSecond:0} img/s");
    }

    public static TrainingResult Run(ProgressReporter progress, string description, Func<IProgress<TrainingStatus>, CancellationToken, TrainingResult> train, Func<TrainingStatus, string> caption,
        string? outValue = null)
    {
        try
        {
            var result = progress.RunWithCaption(description, "step", update =>
                train(new InlineProgress<TrainingStatus>(s => update(s.Step, s.TotalSteps, caption(s))), CancellationToken.None));
            foreach (string warning in result.Warnings ?? []) progress.Warn(warning);
            if (result.SkippedInputs > 0) progress.Warn($"{result.SkippedInputs} unreadable images were skipped");
            return result;
        }
        catch (RunFolderConflictException e)
        {
            string output = outValue ?? e.Folder;
            throw new UserErrorException(e.Reason switch
            {
                RunConflict.NothingLeft => $"{e.Message} Raise --max-steps or --epochs to train on, or start over with --out {output} --force.",
                RunConflict.Finished => $"{e.Message} Choose another --out, or pass --force to overwrite it.",
                RunConflict.Started => $"{e.Message} Pass --resume {e.Folder} to continue it, or --force to start over.",
                RunConflict.NoCheckpoint => $"{e.Message} Start over with --out {output} --force.",
                RunConflict.LooseFiles => $"{e.Message} Choose another --out, or pass --force to overwrite them.",
                _ => e.Message,
            });
        }
        catch (InvalidDataException e) when (e.Message.Contains("reshard", StringComparison.Ordinal))
        {
            throw new UserErrorException($"{e.Message} Use: faceforge model reshard --run RUN_DIR --shards K [--processes P].");
        }
        catch (TrainingDivergedException e)
        {
            throw new UserErrorException(e.Message);
        }
    }
}
