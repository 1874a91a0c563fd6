using System.CommandLine;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distributed;
using FaceForge.Training.Training;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge train`: trains a recognition model; config file, then command-line overrides.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "Dataset: image folder or RecordIO prefix." };
        var arch = new Option<string?>("--arch") { Description = $"Backbone: {string.Join(", ", BackboneCatalog.Names)}." };
        var head = new Option<HeadKind?>("--head") { Description = "Margin head: ArcFace, CosFace, MagFace, CurricularFace." };
        var output = new Option<string?>("--out") { Description = "Run folder (config.json, metrics.jsonl, checkpoints/, model.ffm)." };
        var config = new Option<string?>("--config") { Description = "JSON config (snake_case keys, e.g. {\"epochs\": 10}); options given here override it." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint (uses its config.json)." };
        var force = new Option<bool>("--force") { Description = "Overwrite a finished or started run in --out." };
        var init = new Option<string?>("--init") { Description = "Initialise the backbone from this model file (fine-tuning)." };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many steps." };
        var maxSeconds = new Option<double?>("--max-seconds") { Description = "Stop after this many seconds." };
        var batch = new Option<int?>("--batch-size") { Description = "Batch size." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate." };
        var optimizer = new Option<OptimizerKind?>("--optimizer") { Description = "Sgd or AdamW." };
        var width = new Option<double?>("--width") { Description = "Backbone width multiplier." };
        var embedding = new Option<int?>("--embedding-size") { Description = "Embedding length." };
        var warmup = new Option<double?>("--warmup-epochs") { Description = "Linear warmup length in epochs." };
        var workers = new Option<int?>("--workers") { Description = "Input-pipeline workers." };
        var seed = new Option<int?>("--seed") { Description = "Seed." };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Checkpoint every N steps." };
        var scale = new Option<double?>("--scale") { Description = "Logit scale s (default 64)." };
        var margin = new Option<double?>("--margin") { Description = "Margin: radians for ArcFace/CurricularFace (0.5), cosine for CosFace (0.35)." };
        var sampleRate = new Option<double?>("--sample-rate") { Description = "Partial FC: fraction of class centres scored per step, in (0, 1]." };
        var shards = new Option<int?>("--shards") { Description = "Partial FC: class-centre shards in this process." };
        var fcDtype = FcDtypeOption();
        var fcMomentum = new Option<string?>("--fc-momentum") { Description = "Partial FC: catch-up (unsampled centres keep moving on their velocity, as full-matrix SGD) or sampled-only (the first release)." };
        fcMomentum.AcceptOnlyFromAmong("catch-up", "sampled-only");
        var microBatches = new Option<int?>("--micro-batches") { Description = "Run the backbone on the batch in N pieces, each with its own BatchNorm statistics (as N data-parallel processes would)." };
        var distributed = new Option<string>("--distributed") { Description = "none, or mpi: one process per rank under mpirun; --batch-size is the global batch.", DefaultValueFactory = _ => "none" };
        distributed.AcceptOnlyFromAmong("none", "mpi");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("train", "Train a face recognition model.")
        {
            data, arch, head, output, config, resume, force, init, epochs, maxSteps, maxSeconds, batch, lr, optimizer, width, embedding, warmup, workers, seed, checkpointEvery,
            scale, margin, sampleRate, shards, fcDtype, fcMomentum, microBatches, distributed, json,
        };
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
                effective = TrainingConfig.Load(saved);
            }
            else
            {
                effective = parse.GetValue(config) is { } file
                    ? TrainingConfig.Load(File.Exists(file) ? file : throw new UserErrorException($"--config: '{file}' does not exist."))
                    : new TrainingConfig();
                effective = effective with
                {
                    Data = parse.GetValue(data) ?? effective.Data,
                    Arch = parse.GetValue(arch) ?? effective.Arch,
                    Head = parse.GetValue(head) ?? effective.Head,
                    Init = parse.GetValue(init) ?? effective.Init,
                    Epochs = parse.GetValue(epochs) ?? effective.Epochs,
                    MaxSteps = parse.GetValue(maxSteps) ?? effective.MaxSteps,
                    MaxSeconds = parse.GetValue(maxSeconds) ?? effective.MaxSeconds,
                    BatchSize = parse.GetValue(batch) ?? effective.BatchSize,
                    LearningRate = parse.GetValue(lr) ?? effective.LearningRate,
                    Optimizer = parse.GetValue(optimizer) ?? effective.Optimizer,
                    Width = parse.GetValue(width) ?? effective.Width,
                    EmbeddingSize = parse.GetValue(embedding) ?? effective.EmbeddingSize,
                    WarmupEpochs = parse.GetValue(warmup) ?? effective.WarmupEpochs,
                    Workers = parse.GetValue(workers) ?? effective.Workers,
                    Seed = parse.GetValue(seed) ?? effective.Seed,
                    CheckpointEvery = parse.GetValue(checkpointEvery) ?? effective.CheckpointEvery,
                    Scale = parse.GetValue(scale) ?? effective.Scale,
                    Margin = parse.GetValue(margin) ?? effective.Margin,
                    SampleRate = parse.GetValue(sampleRate) ?? effective.SampleRate,
                    Shards = parse.GetValue(shards) ?? effective.Shards,
                    FcDtype = parse.GetValue(fcDtype) is { } dtype ? ParseFcDtype(dtype) : effective.FcDtype,
                    FcMomentum = parse.GetValue(fcMomentum) is { } momentum
                        ? momentum == "sampled-only" ? FaceForge.Training.Classifiers.CentreMomentum.SampledOnly : FaceForge.Training.Classifiers.CentreMomentum.CatchUp
                        : effective.FcMomentum,
                    MicroBatches = parse.GetValue(microBatches) ?? effective.MicroBatches,
                };
                BackboneCatalog.Defaults(effective.Arch); // unknown names fail here, listing the known ones
                if (!Directory.Exists(effective.Data) && !File.Exists(effective.Data) && !File.Exists(effective.Data + ".rec"))
                    throw new UserErrorException($"--data: '{effective.Data}' does not exist.");
            }
            if (parse.GetValue(distributed) == "mpi") return TrainMpi(effective, runDir, resumeDir is not null, parse.GetValue(force), parse.GetValue(json), parse);
            var result = Train(effective, runDir, resumeDir is not null, parse.GetValue(force), progress);
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
            var result = Train(config, runDir, resume, force, progress, world);
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
            if (json) JsonOutput.Write(writer, new { result.Steps, Model = result.ModelPath, FirstLoss = result.FirstLoss, FinalLoss = result.Losses.LastOrDefault().Loss, result.SkippedSteps, Seconds = Math.Round(result.Seconds, 1) });
            else writer.WriteLine($"trained {result.Steps} steps in {result.Seconds:0} s; final loss {result.Losses.LastOrDefault().Loss:0.000}; model {result.ModelPath}");
    }

    /// <summary>--fc-dtype fp32|fp16, shared with bench partial-fc.</summary>
    internal static Option<string?> FcDtypeOption()
    {
        var option = new Option<string?>("--fc-dtype") { Description = "Class-centre storage: fp32 or fp16 (math stays fp32)." };
        option.AcceptOnlyFromAmong("fp32", "fp16");
        return option;
    }

    internal static FaceForge.Training.Classifiers.CentreStorage ParseFcDtype(string value) =>
        value == "fp16" ? FaceForge.Training.Classifiers.CentreStorage.Float16 : FaceForge.Training.Classifiers.CentreStorage.Float32;

    internal static TrainingResult Train(TrainingConfig config, string runDir, bool resume, bool force, ProgressReporter progress, ICommunicator? world = null)
    {
        var trainer = new Trainer(config, runDir, world);
        try
        {
            return progress.RunWithCaption("training", "step", update =>
                trainer.Run(resume, force, new InlineProgress<TrainingStatus>(s => update(s.Step, s.TotalSteps, $"epoch {s.Epoch} loss {s.Loss:0.000} lr {s.LearningRate:0.####} {s.ImagesPerSecond:0} img/s"))));
        }
        catch (InvalidOperationException e) when (e.Message.Contains("--force", StringComparison.Ordinal))
        {
            throw new UserErrorException(e.Message);
        }
        catch (TrainingDivergedException e)
        {
            throw new UserErrorException(e.Message);
        }
    }
}
