using System.Diagnostics;
using System.Text.Json;
using FaceForge.Data;
using FaceForge.Input;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Distributed;
using FaceForge.Training.Heads;
using FaceForge.Training.Input;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Training;

/// <summary>
/// Trains a backbone with a margin-softmax classifier (full, or Partial FC when sampling, sharding or fp16 centres are asked for). The run folder holds config.json (the effective config),
/// metrics.jsonl (one JSON line per report), checkpoints/ (resumable, atomic), model.ffm and finished.json at the end.
/// Reads top to bottom in the order things happen: data, backbone, head, classifier, optimizer, schedule, resume, loop.
/// </summary>
/// <remarks>
/// One run per instance, on the calling thread. With a communicator of several processes (MPI), each process
/// loads its slice of every batch, holds its class shards (Partial FC across processes) and sums the backbone
/// gradients with the others; process 0 writes the run folder, and each process checkpoints its own shards.
/// </remarks>
public sealed class Trainer
{
    private const string FinishedFile = "finished.json";
    private readonly TrainingConfig _config;
    private readonly string _runDirectory;
    private readonly ICommunicator _world;

    /// <summary>Prepares a run of <paramref name="config"/> in <paramref name="runDirectory"/>, alone or as one process of <paramref name="communicator"/>'s world.</summary>
    public Trainer(TrainingConfig config, string runDirectory, ICommunicator? communicator = null)
    {
        config.Validate();
        _config = config;
        _runDirectory = Path.GetFullPath(runDirectory);
        _world = communicator ?? new SingleProcessCommunicator();
        if (config.BatchSize % _world.Size != 0)
            throw new ArgumentException($"Config 'batch_size' {config.BatchSize} must be divisible by the {_world.Size} processes (it is the global batch).");
    }

    /// <summary>The checkpoint folder of this process (process 0: checkpoints/, process r: checkpoints/rank{r}/).</summary>
    public string CheckpointDirectory => _world.Rank == 0 ? Path.Combine(_runDirectory, "checkpoints") : Path.Combine(_runDirectory, "checkpoints", $"rank{_world.Rank}");

    private bool IsRoot => _world.Rank == 0;

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) training.</summary>
    /// <exception cref="InvalidOperationException">The folder holds a finished or started run and neither resume nor force was asked.</exception>
    public TrainingResult Run(bool resume = false, bool force = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default)
    {
        TorchRuntime.EnsureLoaded();
        PrepareFolder(resume, force);
        var clock = Stopwatch.StartNew();
        torch.manual_seed(_config.Seed);

        using var dataset = FaceDataset.Open(_config.Data, skipEmpty: _config.SkipBad);
        var info = ModelInfoFor(_config);
        var loader = new BatchLoader(dataset, new BatchLoaderOptions
        {
            BatchSize = _config.BatchSize, Width = info.InputWidth, Height = info.InputHeight, Workers = _config.Workers,
            Seed = _config.Seed, SkipBad = _config.SkipBad, Normalization = info.Normalization, SliceIndex = _world.Rank, SliceCount = _world.Size,
        });
        int perEpoch = loader.BatchesPerEpoch;
        if (perEpoch == 0) throw new ArgumentException($"'{_config.Data}' holds {dataset.Count} images: fewer than one batch of {_config.BatchSize}.");
        int totalSteps = _config.Epochs * perEpoch;
        if (_config.MaxSteps > 0) totalSteps = Math.Min(totalSteps, _config.MaxSteps);

        using var backbone = BackboneCatalog.Create(info);
        if (_config.Init is { } init)
        {
            var (initInfo, weights) = ModelFile.Read(init);
            if (!initInfo.Architecture.Equals(info.Architecture, StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--init '{init}' is a {initInfo.Architecture}; this run trains a {info.Architecture}.");
            StateDict.Load(backbone, weights, strict: true, init);
        }
        // Every process starts from process 0's weights (the seed makes them equal already; this makes it certain).
        foreach (var tensor in backbone.state_dict().Values) _world.Broadcast(tensor);
        using var classifier = CreateClassifier(_config, dataset.IdentityCount, info.EmbeddingSize, _world);
        using var optimizer = CreateOptimizer(_config, backbone, classifier.Parameters);
        var schedule = new LearningRateSchedule(_config.LearningRate, (int)Math.Round(_config.WarmupEpochs * perEpoch), totalSteps, _config.Schedule, _config.Power,
            _config.Milestones.Select(m => m * perEpoch).ToArray());

        int step = 0, badSteps = 0, skipped = 0;
        if (resume && LatestCheckpoint() is { } checkpoint)
        {
            var state = TrainingCheckpoint.Load(checkpoint, backbone, classifier, optimizer, _world.Size);
            if (state.Seed != _config.Seed) throw new InvalidDataException($"{checkpoint}: saved with seed {state.Seed}, config says {_config.Seed}.");
            (step, badSteps) = (state.Step, state.BadSteps);
        }
        using (var steps = _world.AllGather(torch.tensor(new long[] { step })))
            if (steps.unique().output.numel() != 1)
                throw new InvalidDataException($"The processes' newest checkpoints are at different steps ({string.Join(", ", steps.data<long>().ToArray())}); remove the newer ones so all resume from the same step.");
        if (IsRoot) AtomicFile.WriteAllText(Path.Combine(_runDirectory, "config.json"), _config.ToJson());

        var losses = new List<(double, double)>();
        double windowLoss = 0, firstLoss = double.NaN;
        int windowSteps = 0, windowImages = 0;
        var windowClock = Stopwatch.StartNew();
        using var metrics = IsRoot ? new StreamWriter(Path.Combine(_runDirectory, "metrics.jsonl"), append: true) : StreamWriter.Null;
        var trainable = Trainable(backbone).ToList();
        backbone.train();
        // Processes must agree on stopping (time and cancellation differ between them) or the others would wait forever.
        bool ShouldStop() => Agree(step >= totalSteps || cancellation.IsCancellationRequested || (_config.MaxSeconds > 0 && clock.Elapsed.TotalSeconds > _config.MaxSeconds));
        while (!ShouldStop())
        {
            int epoch = step / perEpoch;
            foreach (var batch in loader.Epoch(epoch, step % perEpoch, cancellation))
            {
                double lr = schedule.At(step);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                double loss;
                using (var scope = torch.NewDisposeScope())
                {
                    var (images, labels) = TensorBatch.ToTensors(batch);
                    batch.Dispose();
                    optimizer.zero_grad();
                    loss = classifier.LossAndBackward(Forward(backbone, images), labels);
                    if (double.IsFinite(loss))
                    {
                        // The loss is the global batch's mean, so the processes' gradients add up to the one-process gradient.
                        if (_world.Size > 1)
                            foreach (var p in trainable) if (p.grad is { } g) _world.AllReduce(g, ReduceOperation.Sum);
                        var norm = _config.GradientClip > 0 ? nn.utils.clip_grad_norm_(trainable, _config.GradientClip) : 0;
                        if (!double.IsFinite(norm)) loss = double.NaN;
                        else
                        {
                            optimizer.step();
                            classifier.AfterStep(lr);
                        }
                    }
                }
                if (!double.IsFinite(loss))
                {
                    // A non-finite loss or gradient: skip the update, and give up after repeated failures.
                    skipped++;
                    if (++badSteps >= _config.MaxBadSteps)
                        throw new TrainingDivergedException($"Training diverged: {badSteps} consecutive steps with a non-finite loss or gradient (last at step {step}, learning rate {lr:g3}); lower learning_rate or raise warmup_epochs, then --resume.");
                }
                else
                {
                    badSteps = 0;
                    if (double.IsNaN(firstLoss)) firstLoss = loss;
                    windowLoss += loss;
                    windowSteps++;
                }
                windowImages += _config.BatchSize; // the global batch
                step++;

                if (step % _config.LogEvery == 0 || step == totalSteps)
                {
                    double rate = windowImages / Math.Max(1e-9, windowClock.Elapsed.TotalSeconds);
                    double mean = windowSteps > 0 ? windowLoss / windowSteps : double.NaN;
                    var status = new TrainingStatus(step, totalSteps, epoch, mean, lr, rate, TimeSpan.FromSeconds((totalSteps - step) * _config.BatchSize / Math.Max(rate, 1e-9)), skipped);
                    metrics.WriteLine(JsonSerializer.Serialize(new { step, epoch, loss = double.IsFinite(mean) ? mean : (double?)null, lr, images_per_second = Math.Round(rate, 1), skipped }));
                    metrics.Flush();
                    if (double.IsFinite(mean)) losses.Add((step, mean));
                    progress?.Report(status);
                    (windowLoss, windowSteps, windowImages) = (0, 0, 0);
                    windowClock.Restart();
                }
                if (_config.CheckpointEvery > 0 && step % _config.CheckpointEvery == 0) SaveCheckpoint(step, badSteps, backbone, classifier, optimizer);
                if (ShouldStop()) break;
            }
        }
        SaveCheckpoint(step, badSteps, backbone, classifier, optimizer);
        metrics.Dispose();
        string modelPath = Path.Combine(_runDirectory, "model.ffm");
        if (!IsRoot) return new TrainingResult(step, modelPath, losses, skipped, firstLoss, clock.Elapsed.TotalSeconds);
        ModelFile.Save(modelPath, info with { Source = $"faceforge train ({_config.Head}, {step} steps)" }, StateDict.Export(backbone));
        var result = new TrainingResult(step, modelPath, losses, skipped, firstLoss, clock.Elapsed.TotalSeconds);
        Evaluation.TrainingReportWriter.Write(_runDirectory, $"Training: {info.Architecture} + {_config.Head}", ReadLossCurve(), new Dictionary<string, string>
        {
            ["data"] = $"{_config.Data} ({dataset.IdentityCount} identities, {dataset.Count} images)",
            ["steps"] = $"{step} of {totalSteps} (batch {_config.BatchSize}, {perEpoch} per epoch)",
            ["skipped steps"] = skipped.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["model"] = modelPath,
        });
        if (step >= totalSteps)
            AtomicFile.WriteAllText(Path.Combine(_runDirectory, FinishedFile), JsonSerializer.Serialize(new { steps = step, seconds = result.Seconds }));
        return result;
    }

    /// <summary>The (step, loss) curve of the whole run, earlier sessions included, from metrics.jsonl.</summary>
    private List<(double, double)> ReadLossCurve()
    {
        var curve = new List<(double, double)>();
        foreach (string line in File.ReadLines(Path.Combine(_runDirectory, "metrics.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("loss", out var loss) && loss.ValueKind == JsonValueKind.Number)
                curve.Add((doc.RootElement.GetProperty("step").GetInt32(), loss.GetDouble()));
        }
        return curve;
    }

    /// <summary>The model description a config trains.</summary>
    public static ModelInfo ModelInfoFor(TrainingConfig config)
    {
        var info = BackboneCatalog.Defaults(config.Arch);
        if (config.EmbeddingSize > 0) info = info with { EmbeddingSize = config.EmbeddingSize };
        return config.Width == 1 ? info : info with { Options = new() { ["width"] = config.Width } };
    }

    /// <summary>The margin head a config asks for.</summary>
    public static MarginHead CreateHead(TrainingConfig config) => config.Head switch
    {
        HeadKind.ArcFace => CombinedMarginHead.ArcFace(config.Margin > 0 ? config.Margin : 0.5, config.Scale, config.StraightThrough),
        HeadKind.CosFace => CombinedMarginHead.CosFace(config.Margin > 0 ? config.Margin : 0.35, config.Scale),
        HeadKind.MagFace => new MagFaceHead(config.Scale, lambda: config.MagFaceLambda),
        HeadKind.CurricularFace => new CurricularFaceHead(config.Margin > 0 ? config.Margin : 0.5, config.Scale),
        _ => throw new ArgumentException($"Unknown head {config.Head}; known: {string.Join(", ", Enum.GetNames<HeadKind>())}."),
    };

    private static IEnumerable<TorchSharp.Modules.Parameter> Trainable(nn.Module module) => module.parameters().Where(p => p.requires_grad);

    /// <summary>
    /// The backbone over the batch (channels-last, the faster layout for libtorch's CPU convolutions), in
    /// <see cref="TrainingConfig.MicroBatches"/> pieces (each with its own BatchNorm statistics).
    /// </summary>
    private Tensor Forward(nn.Module<Tensor, Tensor> backbone, Tensor images) =>
        _config.MicroBatches == 1 ? backbone.call(ChannelsLast.From(images))
            : torch.cat(images.chunk(_config.MicroBatches).Select(piece => backbone.call(ChannelsLast.From(piece))).ToArray());

    /// <summary>True on every process if true on any.</summary>
    private bool Agree(bool local)
    {
        if (_world.Size == 1) return local;
        using var flag = torch.tensor(new long[] { local ? 1 : 0 });
        _world.AllReduce(flag, ReduceOperation.Max);
        return flag.item<long>() != 0;
    }

    private static ITrainingClassifier CreateClassifier(TrainingConfig config, int classes, int embeddingSize, ICommunicator world)
    {
        var head = CreateHead(config);
        head.train();
        if (world.Size == 1 && config.SampleRate >= 1 && config.Shards == 1 && config.FcDtype == Classifiers.CentreStorage.Float32)
            return new FullSoftmaxTraining(new MarginSoftmaxClassifier(classes, embeddingSize, head, config.Seed));
        // Across processes the centres are always split (model parallel); at rate 1 this equals the full softmax.
        var options = new PartialFcOptions { SampleRate = config.SampleRate, Shards = config.Shards, Storage = config.FcDtype, Momentum = config.FcMomentum, Seed = config.Seed };
        return new PartialFcTraining(new PartialFc(classes, embeddingSize, head, options, world), config.Momentum, config.WeightDecay);
    }

    private static optim.Optimizer CreateOptimizer(TrainingConfig config, nn.Module backbone, IEnumerable<TorchSharp.Modules.Parameter> classifier)
    {
        // No weight decay on BN parameters, PReLU slopes and biases (all 1-d); decay on conv/linear weights and class centres.
        var parameters = Trainable(backbone).Concat(classifier.Where(p => p.requires_grad)).ToList();
        var decay = parameters.Where(p => p.dim() > 1).ToList();
        var plain = parameters.Where(p => p.dim() <= 1).ToList();
        return config.Optimizer switch
        {
            OptimizerKind.Sgd => optim.SGD(
                [new TorchSharp.Modules.SGD.ParamGroup(decay, new TorchSharp.Modules.SGD.Options { weight_decay = config.WeightDecay }),
                 new TorchSharp.Modules.SGD.ParamGroup(plain, new TorchSharp.Modules.SGD.Options { weight_decay = 0 })],
                config.LearningRate, config.Momentum, nesterov: config.Nesterov),
            _ => optim.AdamW(
                [new TorchSharp.Modules.AdamW.ParamGroup(decay, new TorchSharp.Modules.AdamW.Options { weight_decay = config.WeightDecay }),
                 new TorchSharp.Modules.AdamW.ParamGroup(plain, new TorchSharp.Modules.AdamW.Options { weight_decay = 0 })],
                config.LearningRate),
        };
    }

    private void PrepareFolder(bool resume, bool force)
    {
        Directory.CreateDirectory(CheckpointDirectory);
        string? problem = null;
        if (!force && !resume && File.Exists(Path.Combine(_runDirectory, FinishedFile)))
            problem = $"'{_runDirectory}' holds a finished run; choose another --out, or pass --force to overwrite it.";
        else if (!force && !resume && LatestCheckpoint() is { } existing)
            problem = $"'{_runDirectory}' holds a started run ({Path.GetFileName(existing)}); pass --resume to continue it or --force to start over.";
        // Decided together: a process that went on alone would wait for the others forever.
        if (Agree(problem is not null))
            throw new InvalidOperationException(problem ?? $"'{_runDirectory}' holds a started run of another process; pass --resume to continue it or --force to start over.");
        if (force && !resume)
            foreach (string stale in Directory.GetFiles(CheckpointDirectory, "step_*.ckpt")) File.Delete(stale);
    }

    /// <summary>The newest checkpoint of the run folder, or null.</summary>
    public string? LatestCheckpoint() =>
        Directory.Exists(CheckpointDirectory) ? Directory.GetFiles(CheckpointDirectory, "step_*.ckpt").Order(StringComparer.Ordinal).LastOrDefault() : null;

    private void SaveCheckpoint(int step, int badSteps, nn.Module backbone, ITrainingClassifier classifier, optim.Optimizer optimizer)
    {
        string path = Path.Combine(CheckpointDirectory, $"step_{step:D8}.ckpt");
        TrainingCheckpoint.Save(path, new CheckpointState(step, badSteps, _config.Seed, _world.Size), backbone, classifier.Export(), optimizer);
        // Keep the newest two: the last one may be the only copy if the disk fills while writing the next.
        foreach (string old in Directory.GetFiles(CheckpointDirectory, "step_*.ckpt").Order(StringComparer.Ordinal).SkipLast(2))
            File.Delete(old);
    }
}
