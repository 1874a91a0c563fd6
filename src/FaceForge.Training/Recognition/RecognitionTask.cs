using FaceForge.Data;
using FaceForge.Input;
using FaceForge.Occlusion;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Distributed;
using FaceForge.Training.Hosting;
using FaceForge.Training.Input;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Recognition;

/// <summary>
/// The recognition step on the training host. Built in the order things happen: data, backbone, head, classifier,
/// optimizer, schedule; one step is forward, loss, backward, (across processes) summed backbone gradients, clip,
/// optimizer step, classifier update.
/// </summary>
internal sealed class RecognitionTask : ITrainingTask
{
    internal const string BackboneEntry = "backbone.bin", ClassifierEntry = "classifier.bin", OptimizerEntry = "optimizer.bin";
    private readonly TrainingConfig _config;
    private readonly ICommunicator _world;
    private readonly IFaceDataset _dataset;
    private readonly BatchLoader _loader;
    private readonly ModelInfo _info;
    private readonly nn.Module<Tensor, Tensor> _backbone;
    private readonly ITrainingClassifier _classifier;
    private readonly optim.Optimizer _optimizer;
    private readonly List<TorchSharp.Modules.Parameter> _trainable;
    private LearningRateSchedule? _schedule;
    private readonly StepBatches _batches;
    private readonly ThreadReplicas? _replicas;

    public RecognitionTask(TrainingConfig config, ICommunicator world)
    {
        _config = config;
        _world = world;
        _dataset = FaceDataset.Open(config.Data, skipEmpty: config.SkipBad);
        _info = Trainer.ModelInfoFor(config);
        _loader = new BatchLoader(_dataset, LoaderOptions(config, _info, world));
        if (_loader.BatchesPerEpoch == 0)
        {
            _dataset.Dispose();
            throw new ArgumentException($"'{config.Data}' holds {_dataset.Count} images: fewer than one batch of {config.BatchSize}.");
        }
        _batches = new StepBatches(_loader);
        _backbone = CreateBackbone(config, _info, world);
        _classifier = CreateClassifier(config, _dataset.IdentityCount, _info.EmbeddingSize, world);
        _optimizer = CreateOptimizer(config, Trainable(_backbone).Concat(_classifier.Parameters));
        _trainable = Trainable(_backbone).ToList();
        _backbone.train();
        if (config.Replicas > 1)
        {
            int share = config.BatchSize / world.Size;
            if (!ThreadReplicas.Splits(share, config.Replicas))
            {
                Dispose();
                throw new ArgumentException($"Config 'replicas' must divide each process's {share} images of batch_size {config.BatchSize} into pieces of 2 or more (got {config.Replicas} over {world.Size} processes).");
            }
            _replicas = new ThreadReplicas(_backbone, () => BackboneCatalog.Create(_info), config.Replicas);
        }
    }

    public string Title => $"Training: {_info.Architecture} + {_config.Head}";

    public int StepsPerEpoch => _loader.BatchesPerEpoch;

    public int ImagesPerStep => _config.BatchSize; // the global batch

    public int SkippedInputs => _loader.BadCount;

    public StepResult? Step(StepContext context)
    {
        _schedule ??= LearningRateSchedule.For(_config, StepsPerEpoch, context.TotalSteps);
        if (_batches.Next(context) is not { } batch) return null;
        double lr = _schedule.At(context.Step);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        using var scope = torch.NewDisposeScope();
        var (images, labels) = TensorBatch.ToTensors(batch);
        batch.Dispose(); // back to the loader's pool
        _optimizer.zero_grad();
        var embeddings = Forward(images);
        double loss = _classifier.LossAndBackward(embeddings, labels);
        if (_replicas is not null && !_replicas.Backward(embeddings)) loss = double.NaN;
        if (!double.IsFinite(loss) || !UpdateBackbone(_config, _world, _trainable, _optimizer)) return new StepResult(double.NaN, lr);
        _classifier.AfterStep(lr);
        return new StepResult(loss, lr);
    }

    public void Save(CheckpointWriter checkpoint)
    {
        _replicas?.Synchronise();
        checkpoint.WriteModule(BackboneEntry, _backbone);
        checkpoint.WriteTensors(ClassifierEntry, _classifier.Export());
        checkpoint.WriteOptimizer(OptimizerEntry, _optimizer);
    }

    public void Load(CheckpointReader checkpoint)
    {
        if (checkpoint.Has(FfcTask.PoolEntry))
            throw new InvalidDataException($"{checkpoint.Path}: this run trains with FFC (a class pool, no centre matrix); resume it with --classifier ffc.");
        checkpoint.LoadModule(BackboneEntry, _backbone);
        _replicas?.Invalidate();
        _classifier.Import(checkpoint.ReadTensors(ClassifierEntry), $"{checkpoint.Path} (classifier)");
        checkpoint.LoadOptimizer(OptimizerEntry, _optimizer);
    }

    public void SaveModel(string path, int steps)
    {
        _replicas?.Synchronise();
        ModelFile.Save(path, _info with { Source = $"faceforge train ({_config.Head}, {steps} steps)" }, StateDict.Export(_backbone));
    }

    public IReadOnlyDictionary<string, string> Describe(int steps, int totalSteps) => new Dictionary<string, string>
    {
        ["data"] = $"{_config.Data} ({_dataset.IdentityCount} identities, {_dataset.Count} images)",
        ["steps"] = $"{steps} of {totalSteps} (batch {_config.BatchSize}, {StepsPerEpoch} per epoch)",
        ["unreadable images skipped"] = _loader.BadCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public void Dispose()
    {
        _batches?.Dispose();
        _replicas?.Dispose();
        _optimizer.Dispose();
        _classifier.Dispose();
        _backbone.Dispose();
        _dataset.Dispose();
    }

    /// <summary>The input pipeline's settings for a config, a model and this process's share of each batch.</summary>
    internal static BatchLoaderOptions LoaderOptions(TrainingConfig config, ModelInfo info, ICommunicator world)
    {
        IReadOnlyList<OcclusionKind> occluders = config.OcclusionProbability > 0 ? OcclusionKinds.Parse(config.Occluders) : [];
        return new()
        {
            BatchSize = config.BatchSize, Width = info.InputWidth, Height = info.InputHeight, Workers = config.Workers,
            Seed = config.Seed, SkipBad = config.SkipBad, Normalization = info.Normalization, SliceIndex = world.Rank, SliceCount = world.Size,
            // Crops of the other known template (a 112x112 ArcFace pack for a 112x96 model) are reframed, not squashed;
            // only where the model takes its template's crop (small test models take other sizes and keep resizing).
            Template = info.InputTemplate,
            Augmentation = new AugmentationOptions
            {
                DegradeProbability = config.DegradeProbability, ColorJitterProbability = config.ColorJitterProbability, AlignmentJitter = config.AlignmentJitter,
                OcclusionProbability = config.OcclusionProbability, Occluders = occluders,
                MaskOverlays = occluders.Contains(OcclusionKind.Mask) ? Masks(config.MaskOverlays!) : null,
            },
        };
    }

    private static IReadOnlyList<MaskOverlay> Masks(string folder)
    {
        try
        {
            return MaskOverlay.LoadFolder(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A resumed run reads the folder it was started with (config.json), so say where it looked.
            throw new InvalidDataException($"--mask-overlays (config 'mask_overlays'): {e.Message} A resumed run reads the mask pictures from the folder it was started with.", e);
        }
    }

    /// <summary>
    /// Sums the backbone's gradients over the processes (each loss is its share of the global batch's mean, so the sum
    /// is the one-process gradient), clips them and steps the optimizer; false, with no update, when the gradient is
    /// not finite (the host counts a bad step).
    /// </summary>
    internal static bool UpdateBackbone(TrainingConfig config, ICommunicator world, IReadOnlyList<TorchSharp.Modules.Parameter> trainable, optim.Optimizer optimizer)
    {
        if (world.Size > 1)
            foreach (var p in trainable) if (p.grad is { } g) world.AllReduce(g, ReduceOperation.Sum);
        var norm = config.GradientClip > 0 ? nn.utils.clip_grad_norm_(trainable, config.GradientClip) : 0;
        if (!double.IsFinite(norm)) return false;
        optimizer.step();
        return true;
    }

    /// <summary>The backbone, from the config's init model if any, equal on every process.</summary>
    internal static nn.Module<Tensor, Tensor> CreateBackbone(TrainingConfig config, ModelInfo info, ICommunicator world)
    {
        var backbone = BackboneCatalog.Create(info);
        if (config.Init is { } init)
        {
            var (initInfo, weights) = ModelFile.Read(init);
            if (!initInfo.Architecture.Equals(info.Architecture, StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"Init model '{init}' is a {initInfo.Architecture}; this run trains a {info.Architecture}.");
            StateDict.Load(backbone, weights, strict: true, init);
        }
        // Every process starts from process 0's weights (the seed makes them equal already; this makes it certain).
        foreach (var tensor in backbone.state_dict().Values) world.Broadcast(tensor);
        return backbone;
    }

    internal static IEnumerable<TorchSharp.Modules.Parameter> Trainable(nn.Module module) => module.parameters().Where(p => p.requires_grad);

    /// <summary>
    /// The backbone over the batch (channels-last, the faster layout for libtorch's CPU convolutions), in
    /// <see cref="TrainingConfig.MicroBatches"/> pieces (each with its own BatchNorm statistics), or one piece per
    /// replica in parallel.
    /// </summary>
    private Tensor Forward(Tensor images) =>
        _replicas is not null ? _replicas.Forward(images)
        : _config.MicroBatches == 1 ? _backbone.call(ChannelsLast.From(images))
            : torch.cat(images.chunk(_config.MicroBatches).Select(piece => _backbone.call(ChannelsLast.From(piece))).ToArray());

    internal static ITrainingClassifier CreateClassifier(TrainingConfig config, int classes, int embeddingSize, ICommunicator world)
    {
        var head = Trainer.CreateHead(config);
        head.train();
        if (world.Size == 1 && config.SampleRate >= 1 && config.Shards == 1 && config.FcDtype == CentreStorage.Float32)
            return new FullSoftmaxTraining(new MarginSoftmaxClassifier(classes, embeddingSize, head, config.Seed));
        // Across processes the centres are always split (model parallel); at rate 1 this equals the full softmax.
        var options = new PartialFcOptions { SampleRate = config.SampleRate, Shards = config.Shards, Storage = config.FcDtype, Momentum = config.FcMomentum, Seed = config.Seed };
        return new PartialFcTraining(new PartialFc(classes, embeddingSize, head, options, world), config.Momentum, config.WeightDecay);
    }

    /// <summary>The config's optimizer over <paramref name="trainable"/> (backbone, then classifier).</summary>
    internal static optim.Optimizer CreateOptimizer(TrainingConfig config, IEnumerable<TorchSharp.Modules.Parameter> trainable)
    {
        // No weight decay on BN parameters, PReLU slopes and biases (all 1-d); decay on conv/linear weights and class centres.
        var parameters = trainable.Where(p => p.requires_grad).ToList();
        var decay = parameters.Where(p => p.dim() > 1).ToList();
        var plain = parameters.Where(p => p.dim() <= 1).ToList();
        return config.Optimizer switch
        {
            OptimizerKind.Sgd => new SgdOptimizer(
                [new SgdOptimizer.ParamGroup(decay, new SgdOptimizer.Options { weight_decay = config.WeightDecay }),
                 new SgdOptimizer.ParamGroup(plain, new SgdOptimizer.Options { weight_decay = 0 })],
                config.LearningRate, config.Momentum, nesterov: config.Nesterov),
            _ => new AdamWOptimizer(
                [new AdamWOptimizer.ParamGroup(decay, new AdamWOptimizer.Options { weight_decay = config.WeightDecay }),
                 new AdamWOptimizer.ParamGroup(plain, new AdamWOptimizer.Options { weight_decay = 0 })],
                config.LearningRate),
        };
    }
}
