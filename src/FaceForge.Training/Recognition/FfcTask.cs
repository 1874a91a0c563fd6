using System.Globalization;
using FaceForge.Data;
using FaceForge.Formats.PyTorch;
using FaceForge.Input;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Distributed;
using FaceForge.Training.Hosting;
using FaceForge.Training.Input;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Recognition;

/// <summary>
/// The FFC step on the training host (<see cref="FfcClassifier"/>): two loaders (instances, and identity pairs of
/// batch_size / 2 identities x 2 images), the probe network P (trained) and the gallery network G = EMA(P). Each step
/// splits the images into halves X and Y (one image of every pair, then half of the instances, each), updates G, and
/// takes FFC's two passes: P(X) against the pool with G(Y) written tentatively, then P(Y) against the pool with G(X)
/// written for good; one backward through both, clip, optimizer step on P.
/// </summary>
internal sealed class FfcTask : ITrainingTask
{
    internal const string PoolEntry = "pool.bin", GalleryEntry = "gallery.bin";
    private readonly TrainingConfig _config;
    private readonly ICommunicator _world;
    private readonly IFaceDataset _dataset;
    private readonly BatchLoader _instances, _pairs;
    private readonly StepBatches _instanceBatches, _pairBatches;
    private readonly ModelInfo _info;
    private readonly nn.Module<Tensor, Tensor> _probe, _gallery;
    private readonly FfcClassifier _ffc;
    private readonly optim.Optimizer _optimizer;
    private readonly List<TorchSharp.Modules.Parameter> _trainable;
    private LearningRateSchedule? _schedule;

    public FfcTask(TrainingConfig config, ICommunicator world)
    {
        _config = config;
        _world = world;
        _dataset = FaceDataset.Open(config.Data, skipEmpty: config.SkipBad);
        try
        {
            _info = Trainer.ModelInfoFor(config);
            var options = RecognitionTask.LoaderOptions(config, _info, world);
            _instances = new BatchLoader(_dataset, options);
            if (_instances.BatchesPerEpoch == 0)
                throw new ArgumentException($"'{config.Data}' holds {_dataset.Count} images: fewer than one batch of {config.BatchSize}.");
            _pairs = new BatchLoader(_dataset, options with { IdentityPairs = true, Seed = Randomness.SeedMixer.Mix(config.Seed, 0x9a1e) });
            int poolEntries = config.PoolEntries(_dataset.IdentityCount);
            _probe = RecognitionTask.CreateBackbone(config, _info, world);
            _gallery = BackboneCatalog.Create(_info);
            using (torch.no_grad())
                foreach (var (g, p) in _gallery.state_dict().Values.Zip(_probe.state_dict().Values)) g.copy_(p);
            foreach (var p in _gallery.parameters()) p.requires_grad = false;
            var head = Trainer.CreateHead(config);
            head.train();
            _ffc = new FfcClassifier(poolEntries, _info.EmbeddingSize, head, world);
            _trainable = RecognitionTask.Trainable(_probe).ToList();
            _optimizer = RecognitionTask.CreateOptimizer(config, _trainable);
            _instanceBatches = new StepBatches(_instances);
            _pairBatches = new StepBatches(_pairs);
            _probe.train();
            _gallery.train(); // as the reference: G normalises with its batch's statistics
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Title => $"Training: {_info.Architecture} + {_config.Head} over an FFC class pool";

    public int StepsPerEpoch => _instances.BatchesPerEpoch;

    public int ImagesPerStep => 2 * _config.BatchSize; // instances and pairs, over all processes

    public int SkippedInputs => _instances.BadCount + _pairs.BadCount;

    public StepResult? Step(StepContext context)
    {
        _schedule ??= LearningRateSchedule.For(_config, StepsPerEpoch, context.TotalSteps);
        // The pair loader cycles on its own epochs, one batch per step.
        int pairEpochs = _pairs.BatchesPerEpoch;
        var pairContext = context with { Epoch = context.Step / pairEpochs, IndexInEpoch = context.Step % pairEpochs };
        if (_instanceBatches.Next(context) is not { } instanceBatch) return null;
        if (_pairBatches.Next(pairContext) is not { } pairBatch)
        {
            instanceBatch.Dispose();
            return null;
        }
        double lr = _schedule.At(context.Step);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        using var scope = torch.NewDisposeScope();
        var (instances, instanceLabels) = TensorBatch.ToTensors(instanceBatch);
        var (pairs, pairLabels) = TensorBatch.ToTensors(pairBatch);
        instanceBatch.Dispose();
        pairBatch.Dispose();
        // Halves: the first and second image of every pair, each followed by half of the instances.
        long pairCount = pairs.shape[0], half = instances.shape[0] / 2;
        using Scalar end = pairCount;
        var firsts = torch.arange(RootedScalars.Zero, end, RootedScalars.Two);
        var seconds = torch.arange(RootedScalars.One, end, RootedScalars.Two);
        var x = torch.cat([pairs.index_select(0, firsts), instances.narrow(0, 0, half)]);
        var y = torch.cat([pairs.index_select(0, seconds), instances.narrow(0, half, instances.shape[0] - half)]);
        var labelsX = torch.cat([pairLabels.index_select(0, firsts), instanceLabels.narrow(0, 0, half)]);
        var labelsY = torch.cat([pairLabels.index_select(0, seconds), instanceLabels.narrow(0, half, instances.shape[0] - half)]);

        _optimizer.zero_grad();
        FfcClassifier.UpdateGallery(_gallery, _probe, _config.FfcMomentum);
        Tensor galleryX, galleryY;
        using (torch.no_grad())
        {
            galleryY = _gallery.call(ChannelsLast.From(y));
            galleryX = _gallery.call(ChannelsLast.From(x));
        }
        var loss = _ffc.Step(_probe.call(ChannelsLast.From(x)), labelsX, galleryX, _probe.call(ChannelsLast.From(y)), labelsY, galleryY);
        // Each process's loss is its share of the global mean: summed across processes it is the global loss.
        var total = loss.detach().clone();
        if (_world.Size > 1) _world.AllReduce(total, ReduceOperation.Sum);
        double value = total.item<float>();
        var metrics = new Dictionary<string, double> { ["pool_filled"] = _ffc.Pool.Count / (double)_ffc.Pool.Capacity };
        if (!double.IsFinite(value)) return new StepResult(double.NaN, lr, metrics);
        loss.backward();
        return RecognitionTask.UpdateBackbone(_config, _world, _trainable, _optimizer) ? new StepResult(value, lr, metrics) : new StepResult(double.NaN, lr, metrics);
    }

    public void Save(CheckpointWriter checkpoint)
    {
        checkpoint.WriteModule(RecognitionTask.BackboneEntry, _probe);
        checkpoint.WriteModule(GalleryEntry, _gallery);
        var order = _ffc.Pool.Order();
        checkpoint.WriteTensors(PoolEntry, new Dictionary<string, TensorData>(StringComparer.Ordinal)
        {
            ["slots"] = StateDict.ToData(_ffc.Pool.Slots),
            ["identity"] = Int64(order.Select(o => o.Identity)),
            ["entry"] = Int64(order.Select(o => (long)o.Entry)),
            ["position"] = Int64(order.Select(o => (long)o.Position)),
        });
        checkpoint.WriteOptimizer(RecognitionTask.OptimizerEntry, _optimizer);
    }

    private static TensorData Int64(IEnumerable<long> values)
    {
        var array = values.ToArray();
        var bytes = new byte[array.Length * sizeof(long)];
        Buffer.BlockCopy(array, 0, bytes, 0, bytes.Length);
        return new TensorData(TensorElementType.Int64, [array.Length], bytes);
    }

    public void Load(CheckpointReader checkpoint)
    {
        if (!checkpoint.Has(PoolEntry))
            throw new InvalidDataException($"{checkpoint.Path}: this run was not trained with FFC (it has class centres, no class pool); resume it with --classifier fc.");
        // The pool first: another pool or embedding size is named as such rather than as a backbone mismatch.
        var pool = checkpoint.ReadTensors(PoolEntry);
        string source = $"{checkpoint.Path} ({PoolEntry})";
        var slots = pool.TryGetValue("slots", out var s) ? s : throw new InvalidDataException($"{source}: no pool slots.");
        if (!slots.Shape.SequenceEqual(_ffc.Pool.Slots.shape))
            throw new InvalidDataException($"{source}: the pool is {slots.ShapeText} (2 slots x entries x embedding size); this run's is [{string.Join(", ", _ffc.Pool.Slots.shape)}]. " +
                "Resume with the pool size and embedding size the run started with.");
        long[] Read(string name) => pool.TryGetValue(name, out var data) && data.ElementType == TensorElementType.Int64
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data.Data).ToArray() : throw new InvalidDataException($"{source}: no int64 '{name}'.");
        long[] identity = Read("identity"), entry = Read("entry"), position = Read("position");
        if (entry.Length != identity.Length || position.Length != identity.Length)
            throw new InvalidDataException($"{source}: the pool's identity, entry and position lists differ in length.");
        if (entry.Any(e => e < 0 || e >= _ffc.Pool.Capacity) || position.Any(p => p is not (0 or 1)))
            throw new InvalidDataException($"{source}: the pool's entries must lie in [0, {_ffc.Pool.Capacity}) and its slot positions be 0 or 1.");
        checkpoint.LoadModule(RecognitionTask.BackboneEntry, _probe);
        checkpoint.LoadModule(GalleryEntry, _gallery);
        checkpoint.LoadOptimizer(RecognitionTask.OptimizerEntry, _optimizer);
        _ffc.Pool.Restore(identity.Select((id, i) => (id, (int)entry[i], (int)position[i])).ToList(), source);
        using (var value = StateDict.ToTensor(slots))
        using (torch.no_grad())
            _ffc.Pool.Slots.copy_(value);
    }

    public void SaveModel(string path, int steps) =>
        ModelFile.Save(path, _info with { Source = $"faceforge train ({_config.Head}, FFC pool {_ffc.Pool.Capacity}, {steps} steps)" }, StateDict.Export(_probe));

    public IReadOnlyDictionary<string, string> Describe(int steps, int totalSteps) => new Dictionary<string, string>
    {
        ["data"] = $"{_config.Data} ({_dataset.IdentityCount} identities, {_dataset.Count} images)",
        ["steps"] = $"{steps} of {totalSteps} (batch {_config.BatchSize} instances + {_config.BatchSize / 2} identity pairs, {StepsPerEpoch} per epoch)",
        ["class pool"] = string.Create(CultureInfo.InvariantCulture,
            $"{_ffc.Pool.Capacity} entries ({100.0 * _ffc.Pool.Capacity / _dataset.IdentityCount:0.##} % of the identities), {_ffc.Pool.Count} filled, k = {_ffc.HardNegatives} hard negatives"),
        ["identities left out of the pair loader (one image)"] = _pairs.SingleImageIdentities.ToString(CultureInfo.InvariantCulture),
        ["unreadable images skipped"] = SkippedInputs.ToString(CultureInfo.InvariantCulture),
    };

    public void Dispose()
    {
        _instanceBatches?.Dispose();
        _pairBatches?.Dispose();
        _optimizer?.Dispose();
        _ffc?.Dispose();
        _gallery?.Dispose();
        _probe?.Dispose();
        _dataset.Dispose();
    }
}
