using System.CommandLine;
using System.Globalization;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distillation;
using FaceForge.Training.Hosting;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge distill --teacher MODEL --student ARCH --data DIR [--landmarks F] --out RUN [--generations N]`: angular
/// distillation into a student backbone, recursively over generations (RUN/gen-K), the last one's student in RUN/model.ffm.
/// </summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var run = new RunCommandLine<DistillationConfig>(
            [nameof(DistillationConfig.Epochs), nameof(DistillationConfig.MaxSteps), nameof(DistillationConfig.MaxSeconds), nameof(DistillationConfig.Workers), nameof(DistillationConfig.Replicas),
             nameof(DistillationConfig.LogEvery), nameof(DistillationConfig.CheckpointEvery), nameof(DistillationConfig.MaxBadSteps)]);
        run.Settings[nameof(DistillationConfig.Student)].Description += $" One of: {string.Join(", ", BackboneCatalog.Names)}.";
        run.Output.Description = "Run folder: config.json, teacher.sha256, gen-1/, gen-2/, … (each a training run folder) and model.ffm, the last generation's student.";
        run.Resume.Description = "Continue the distillation run in this folder: the unfinished generation from its last checkpoint, then the ones after it.";
        var command = new Command("distill", "Distil a teacher recognition model into a student backbone (margin loss + weight x |s/|s| - t/|t||^2), recursively over generations.");
        run.AddTo(command);
        command.SetAction(parse =>
        {
            var (config, runDir, resuming) = run.Resolve(parse, DistillationConfig.Load, c =>
            {
                if (string.IsNullOrWhiteSpace(c.Teacher)) throw new UserErrorException("--teacher is required (or a config file with a \"teacher\" key, or --resume RUN_DIR).");
                if (string.IsNullOrWhiteSpace(c.Data)) throw new UserErrorException("--data is required (or a config file with a \"data\" key, or --resume RUN_DIR).");
                run.RequireFile(nameof(DistillationConfig.Teacher), c.Teacher);
                if (!Directory.Exists(c.Data) && !File.Exists(c.Data + ".rec")) throw new UserErrorException($"--data: '{c.Data}' does not exist.");
                run.RequireFile(nameof(DistillationConfig.Landmarks), c.Landmarks);
                run.RequireFile(nameof(DistillationConfig.Init), c.Init);
                BackboneCatalog.Defaults(c.Student); // unknown names fail here, listing the known ones
            }, c => c.Validate());
            bool force = parse.GetValue(run.Force);
            using var distiller = new Distiller(config, runDir);
            IReadOnlyList<(int Generation, bool Resume, bool Overwrite)> plan;
            try
            {
                plan = distiller.Prepare(resuming, force);
            }
            catch (RunFolderConflictException e)
            {
                throw new UserErrorException(e.Reason switch
                {
                    RunConflict.Started => $"{e.Message} Pass --resume {runDir} to continue it, or --force to start over.",
                    RunConflict.Finished => $"{e.Message} Choose another --out, or pass --force to overwrite it.",
                    _ => e.Message,
                });
            }
            if (plan.Count == 0)
                throw new UserErrorException($"'{runDir}' holds a finished distillation run ({config.Generations} generations, student {distiller.ModelPath}): nothing is left to resume. Start over with --out {runDir} --force.");
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var results = new List<(int Generation, TrainingResult Result)>();
            foreach (var (generation, resume, overwrite) in plan)
            {
                var result = TrainingProgress.Run(progress, $"generation {generation} of {config.Generations}", (p, c) => distiller.RunGeneration(generation, resume, overwrite, p, c),
                    s => $"epoch {s.Epoch} loss {s.Loss:0.000} cos {s.Metrics?.GetValueOrDefault("cosine_to_teacher"):0.000} {s.ImagesPerSecond:0} img/s", outValue: runDir);
                results.Add((generation, result));
                if (distiller.Generation(generation).State != RunFolderState.Finished)
                {
                    // Stopped by --max-steps or --max-seconds: the next generation needs this one's student.
                    progress.Warn($"generation {generation} stopped before its last step; continue with: faceforge distill --resume {runDir}");
                    break;
                }
            }
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(run.Json))
                JsonOutput.Write(writer, new
                {
                    Model = distiller.ModelPath, RunFolder = distiller.Root,
                    Generations = results.Select(r => new { r.Generation, r.Result.Steps, Model = r.Result.ModelPath, FinalLoss = r.Result.Losses.Count > 0 ? r.Result.Losses[^1].Loss : (double?)null, Seconds = Math.Round(r.Result.Seconds, 1) }),
                });
            else
            {
                foreach (var (generation, result) in results)
                    writer.WriteLine($"generation {generation}: {result.Steps} steps in {result.Seconds:0} s; final loss {(result.Losses.Count > 0 ? result.Losses[^1].Loss.ToString("0.000", CultureInfo.InvariantCulture) : "n/a")}; model {result.ModelPath}");
                if (File.Exists(distiller.ModelPath)) writer.WriteLine($"student: {distiller.ModelPath}");
            }
            return 0;
        });
        return command;
    }
}
