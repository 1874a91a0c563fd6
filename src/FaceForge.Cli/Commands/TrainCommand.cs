using System.CommandLine;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distributed;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge train`: trains a recognition model; config file, then command-line overrides (one option per config key).</summary>
internal static class TrainCommand
{
    /// <summary>
    /// Settings a resumed run may change: when it stops and how it reports. Epochs and max_steps also set the length
    /// the learning-rate schedule decays over, so extending a run stretches its schedule from the resumed step on.
    /// </summary>
    private static readonly string[] ResumableSettings =
        [nameof(TrainingConfig.Epochs), nameof(TrainingConfig.MaxSteps), nameof(TrainingConfig.MaxSeconds), nameof(TrainingConfig.Workers), nameof(TrainingConfig.Replicas),
         nameof(TrainingConfig.LogEvery), nameof(TrainingConfig.CheckpointEvery), nameof(TrainingConfig.MaxBadSteps)];

    public static Command Create()
    {
        var run = new RunCommandLine<TrainingConfig>(ResumableSettings);
        run.Settings[nameof(TrainingConfig.Arch)].Description += $" One of: {string.Join(", ", BackboneCatalog.Names)}.";
        var distributed = new Option<string>("--distributed") { Description = "none, or mpi: one process per rank under mpirun; --batch-size is the global batch.", DefaultValueFactory = _ => "none" };
        distributed.AcceptOnlyFromAmong("none", "mpi");
        var command = new Command("train", "Train a face recognition model.") { distributed };
        run.AddTo(command);
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var (effective, runDir, resuming) = run.Resolve(parse, TrainingConfig.Load, config =>
            {
                if (string.IsNullOrWhiteSpace(config.Data)) throw new UserErrorException("--data is required (or a config file with a \"data\" key, or --resume RUN_DIR).");
                BackboneCatalog.Defaults(config.Arch); // unknown names fail here, listing the known ones
                if (!Directory.Exists(config.Data) && !File.Exists(config.Data) && !File.Exists(config.Data + ".rec"))
                    throw new UserErrorException($"--data: '{config.Data}' does not exist.");
                run.RequireFile(nameof(TrainingConfig.Init), config.Init);
                run.Settings.Validate(config.RequireNoIgnoredSettings);
            }, config => config.Validate());
            bool force = parse.GetValue(run.Force), json = parse.GetValue(run.Json);
            if (!resuming) NoteUnalignedPhotos(effective.Data, parse.InvocationConfiguration.Error);
            if (parse.GetValue(distributed) == "mpi") return TrainMpi(effective, runDir, resuming, force, json, parse);
            var result = TrainingProgress.Recognition(effective, runDir, resuming, force, progress);
            Report(result, json, parse.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Training takes aligned face crops, resized whole to the network's input. A first image of another size than
    /// the known templates' crops is most likely a photo (a user's own face set): said, with the command that aligns
    /// them. A note, not an error: crops of another size (data synth --size) are legitimate.
    /// </summary>
    private static void NoteUnalignedPhotos(string data, TextWriter error)
    {
        try
        {
            using var dataset = Data.FaceDataset.Open(data);
            if (dataset.Count == 0) return;
            var (width, height) = Imaging.ImageDecoder.Size(dataset.ReadEncoded(0), dataset.Describe(0));
            if (!Alignment.AlignmentTemplate.IsCropSize(width, height))
                error.WriteLine($"note: {dataset.Describe(0)} is {width}x{height}, not an aligned face crop (112x112 or 96x112): training images are resized whole. " +
                    "If these are photos, align them first: faceforge data align --images DIR --out ALIGNED");
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // The trainer reports unreadable data itself, naming the file.
        }
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
