using System.CommandLine;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distributed;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge train`: trains a recognition model; config file, then command-line overrides (one option per config key).</summary>
internal static class TrainCommand
{
    /// <summary>Settings a resumed run may change: they decide when and how it stops and reports, not what it learns.</summary>
    private static readonly string[] ResumableSettings =
        [nameof(TrainingConfig.Epochs), nameof(TrainingConfig.MaxSteps), nameof(TrainingConfig.MaxSeconds), nameof(TrainingConfig.Workers),
         nameof(TrainingConfig.LogEvery), nameof(TrainingConfig.CheckpointEvery), nameof(TrainingConfig.MaxBadSteps)];

    public static Command Create()
    {
        var settings = new SettingsBinder<TrainingConfig>();
        settings[nameof(TrainingConfig.Arch)].Description += $" One of: {string.Join(", ", BackboneCatalog.Names)}.";
        var output = new Option<string?>("--out") { Description = "Run folder (config.json, metrics.jsonl, checkpoints/, model.ffm, report.html)." };
        var config = new Option<string?>("--config") { Description = "JSON config (snake_case keys, e.g. {\"epochs\": 10}); options given here override it." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint (uses its config.json; only stopping and logging options may change)." };
        var force = new Option<bool>("--force") { Description = "Overwrite a finished or started run in --out." };
        var distributed = new Option<string>("--distributed") { Description = "none, or mpi: one process per rank under mpirun; --batch-size is the global batch.", DefaultValueFactory = _ => "none" };
        distributed.AcceptOnlyFromAmong("none", "mpi");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("train", "Train a face recognition model.") { output, config, resume, force, distributed, json };
        foreach (var option in settings.Options) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string? resumeDir = parse.GetValue(resume);
            string runDir = resumeDir ?? parse.GetValue(output) ?? throw new UserErrorException("--out is required (or --resume RUN_DIR).");
            TrainingConfig effective;
            if (resumeDir is not null)
            {
                string saved = Path.Combine(resumeDir, "config.json");
                if (!File.Exists(saved)) throw new UserErrorException($"--resume: '{resumeDir}' holds no config.json: not a FaceForge run folder.");
                if (parse.GetValue(config) is not null) throw new UserErrorException("--config cannot be given with --resume: the run's config.json is its config.");
                if (parse.GetValue(output) is not null) throw new UserErrorException("--out cannot be given with --resume: the run continues in its own folder.");
                if (parse.GetValue(force)) throw new UserErrorException("--force cannot be given with --resume: to start over, use --out RUN_DIR --force.");
                var fixedOption = settings.Options.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false } && !ResumableSettings.Any(s => settings[s] == o));
                if (fixedOption is not null)
                    throw new UserErrorException($"{fixedOption.Name} cannot change when resuming (the run's config.json fixes it); only {string.Join(", ", ResumableSettings.Select(settings.NameOf))} may.");
                effective = settings.Apply(parse, TrainingConfig.Load(saved));
            }
            else
            {
                var start = parse.GetValue(config) is { } file
                    ? TrainingConfig.Load(File.Exists(file) ? file : throw new UserErrorException(Directory.Exists(file) ? $"--config: '{file}' is a folder; give the JSON file." : $"--config: '{file}' does not exist."))
                    : new TrainingConfig();
                effective = settings.Apply(parse, start);
                if (string.IsNullOrWhiteSpace(effective.Data)) throw new UserErrorException("--data is required (or a config file with a \"data\" key, or --resume RUN_DIR).");
                BackboneCatalog.Defaults(effective.Arch); // unknown names fail here, listing the known ones
                if (!Directory.Exists(effective.Data) && !File.Exists(effective.Data) && !File.Exists(effective.Data + ".rec"))
                    throw new UserErrorException($"--data: '{effective.Data}' does not exist.");
                if (effective.Init is { } init && !File.Exists(init)) throw new UserErrorException($"--init: '{init}' does not exist.");
            }
            settings.Validate(effective.Validate);
            if (parse.GetValue(distributed) == "mpi") return TrainMpi(effective, runDir, resumeDir is not null, parse.GetValue(force), parse.GetValue(json), parse);
            var result = TrainingProgress.Recognition(effective, runDir, resumeDir is not null, parse.GetValue(force), progress);
            Report(result, parse.GetValue(json), parse.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// One rank of an mpirun launch. Process 0 reports progress and the result; an error on any process is printed
    /// with its rank and ends the whole job through MPI_Abort, since the others would otherwise wait for it forever.
    /// </summary>
    private static int TrainMpi(TrainingConfig config, string runDir, bool resume, bool force, bool json, ParseResult parse)
    {
        using var world = new MpiCommunicator();
        var error = parse.InvocationConfiguration.Error;
        try
        {
            var progress = new ProgressReporter(world.Rank == 0 ? error : TextWriter.Null);
            var result = TrainingProgress.Recognition(config, runDir, resume, force, progress, world);
            if (world.Rank == 0) Report(result, json, parse.InvocationConfiguration.Output);
            return 0;
        }
        catch (Exception e) when (world.Size > 1)
        {
            var (line, code) = CliRunner.Describe(e);
            error.WriteLine($"rank {world.Rank}: {line}");
            error.Flush();
            world.Abort(code);
            return code;
        }
    }

    private static void Report(TrainingResult result, bool json, TextWriter writer)
    {
        if (json) JsonOutput.Write(writer, new { result.Steps, Model = result.ModelPath, FirstLoss = double.IsFinite(result.FirstLoss) ? result.FirstLoss : (double?)null, FinalLoss = result.Losses.Count > 0 ? result.Losses[^1].Loss : (double?)null, result.SkippedSteps, SkippedImages = result.SkippedInputs, Seconds = Math.Round(result.Seconds, 1) });
        else writer.WriteLine($"trained {result.Steps} steps in {result.Seconds:0} s; final loss {(result.Losses.Count > 0 ? result.Losses[^1].Loss.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture) : "n/a (no finite loss this session)")}; model {result.ModelPath}");
    }
}
