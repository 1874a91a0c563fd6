using System.Globalization;
using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Imaging;
using FaceForge.Input;
using FaceForge.Models;
using FaceForge.Training.Embedding;
using FaceForge.Training.Heads;
using FaceForge.Training.Hosting;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Uncertainty;

/// <summary>
/// The Probabilistic Face Embeddings step on the training host: a P x K batch from <see cref="IdentityBatchSampler"/>,
/// the frozen backbone's feature maps and unit-length embeddings (cached: they never change), the head's log
/// variances, the mutual likelihood loss over the batch's genuine pairs, an SGD step on the head alone.
/// </summary>
internal sealed class UncertaintyTask : ITrainingTask
{
    private const string HeadEntry = "uncertainty.bin", OptimizerEntry = "optimizer.bin", ModelEntry = "model.sha256";
    private readonly UncertaintyTrainingConfig _config;
    private readonly TorchFaceEmbedder _model;
    private readonly IFaceDataset _dataset;
    private readonly IdentityBatchSampler _sampler;
    private readonly UncertaintyHead _head;
    private readonly optim.Optimizer _optimizer;
    private readonly Dictionary<(int Index, bool Mirrored, int Variant), (Tensor Map, Tensor Mean)> _cache = [];
    private readonly string _modelHash;
    private long _cacheBytes;

    public UncertaintyTask(UncertaintyTrainingConfig config)
    {
        _config = config;
        // The backbone the head learns on: hashed once, as it was read, for resume to compare.
        _modelHash = FileHash.Sha256(config.Model!);
        _model = TorchFaceEmbedder.Open(config.Model!);
        try
        {
            _dataset = FaceDataset.Open(config.Data!);
            _sampler = new IdentityBatchSampler(_dataset, config.IdentitiesPerBatch, config.ImagesPerIdentity, config.Seed); // checked by the trainer's preflight
            _head = TorchFaceEmbedder.CreateUncertaintyHead(_model.Info, _model.Network);
            _head.train();
            var parameters = _head.parameters().ToList();
            _optimizer = new SgdOptimizer(
                [new SgdOptimizer.ParamGroup(parameters.Where(p => p.dim() > 1), new SgdOptimizer.Options { weight_decay = config.WeightDecay }),
                 new SgdOptimizer.ParamGroup(parameters.Where(p => p.dim() <= 1), new SgdOptimizer.Options { weight_decay = 0 })],
                config.LearningRate, config.Momentum);
        }
        catch
        {
            _head?.Dispose();
            _dataset?.Dispose();
            _model.Dispose();
            throw;
        }
    }

    public string Title => $"Uncertainty head (PFE) on {_model.Info.Architecture}";

    public int StepsPerEpoch => _sampler.BatchesPerEpoch;

    public int ImagesPerStep => _config.IdentitiesPerBatch * _config.ImagesPerIdentity;

    public int SkippedInputs => 0;

    public StepResult? Step(StepContext context)
    {
        double lr = _config.LearningRate * (1 - context.Step / (double)Math.Max(1, context.TotalSteps));
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        var (indices, draws) = _sampler.Batch(context.Epoch, context.IndexInEpoch);
        var keys = indices.Select((i, n) => (i, _config.Flip && draws[n] < 0.5, Variant(context, n))).ToArray();
        Fill(keys, context.Cancellation);
        using var scope = torch.NewDisposeScope();
        var maps = torch.stack(keys.Select(k => _cache[k].Map).ToArray());
        var means = torch.stack(keys.Select(k => _cache[k].Mean).ToArray());
        var labels = torch.tensor(Enumerable.Range(0, indices.Length).Select(n => (long)(n / _config.ImagesPerIdentity)).ToArray());
        DropUncached(keys);
        _optimizer.zero_grad();
        var logSigmaSq = _head.call(maps);
        var loss = MutualLikelihoodLoss.Compute(means, logSigmaSq, labels);
        double value = loss.item<float>();
        if (!double.IsFinite(value)) return new StepResult(double.NaN, lr);
        loss.backward();
        _optimizer.step();
        return new StepResult(value, lr, new Dictionary<string, double> { ["log_sigma_sq_mean"] = logSigmaSq.mean().item<float>() });
    }

    /// <summary>0 for the clean crop, else which of the image's degraded variants sample <paramref name="n"/> of this step is.</summary>
    private int Variant(StepContext context, int n)
    {
        if (_config.DegradeProbability <= 0) return 0;
        var random = new Random(Randomness.SeedMixer.Mix(_config.Seed, 0xde9, context.Epoch, context.IndexInEpoch, n));
        return random.NextDouble() < _config.DegradeProbability ? 1 + random.Next(_config.DegradedVariants) : 0;
    }

    /// <summary>Runs the frozen backbone over the crops not cached yet.</summary>
    private void Fill((int Index, bool Mirrored, int Variant)[] keys, CancellationToken cancellation)
    {
        var missing = keys.Distinct().Where(k => !_cache.ContainsKey(k)).ToArray();
        if (missing.Length == 0) return;
        var info = _model.Info;
        var crops = new RgbImage[missing.Length];
        Parallel.For(0, missing.Length, new ParallelOptions { CancellationToken = cancellation }, n =>
        {
            var (index, mirrored, variant) = missing[n];
            var crop = ImageDecoder.Decode(_dataset.ReadEncoded(index), _dataset.Describe(index));
            // A crop of the other known template (a 112x112 ArcFace pack for a 112x96 model) is moved into the model's frame.
            if (info.InputTemplate is { } frame && AlignmentTemplate.IsCropSize(crop.Width, crop.Height)) crop = FaceAligner.Reframe(crop, frame);
            if (crop.Width != info.InputWidth || crop.Height != info.InputHeight)
                throw new InvalidDataException($"{_dataset.Describe(index)}: the crop is {crop.Width}x{crop.Height}; the model takes {info.InputWidth}x{info.InputHeight} ({info.Template}): align the dataset for this model.");
            // A variant is a fixed draw of the image: the same degradation whenever it is recomputed.
            if (variant > 0) crop = Augmenter.Degrade(crop, new Random(Randomness.SeedMixer.Mix(_config.Seed, 0xde9a, index, variant)));
            crops[n] = mirrored ? crop.FlipHorizontal() : crop;
        });
        const int chunk = 64;
        for (int start = 0; start < missing.Length; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            int count = Math.Min(chunk, missing.Length - start);
            var input = ChannelsLast.From(TorchFaceEmbedder.ToInput(crops.AsSpan(start, count).ToArray(), info));
            var map = _model.Backbone.FeatureMap(input).contiguous();
            var mean = nn.functional.normalize(_model.Backbone.Embed(map), p: 2, dim: 1);
            for (int n = 0; n < count; n++)
            {
                var entry = (map[n].clone().DetachFromDisposeScope(), mean[n].clone().DetachFromDisposeScope());
                _cache[missing[start + n]] = entry;
                _cacheBytes += (entry.Item1.numel() + entry.Item2.numel()) * sizeof(float);
            }
        }
    }

    /// <summary>Once the cache is over its budget, the crops just used are recomputed next time instead of kept.</summary>
    private void DropUncached((int Index, bool Mirrored, int Variant)[] keys)
    {
        if (_cacheBytes <= (long)_config.CacheMegabytes << 20) return;
        foreach (var key in keys.Distinct())
        {
            if (_cacheBytes <= (long)_config.CacheMegabytes << 20) break;
            if (!_cache.Remove(key, out var entry)) continue;
            _cacheBytes -= (entry.Map.numel() + entry.Mean.numel()) * sizeof(float);
            entry.Map.Dispose();
            entry.Mean.Dispose();
        }
    }

    public void Save(CheckpointWriter checkpoint)
    {
        checkpoint.WriteBytes(ModelEntry, System.Text.Encoding.ASCII.GetBytes(_modelHash));
        checkpoint.WriteModule(HeadEntry, _head);
        checkpoint.WriteOptimizer(OptimizerEntry, _optimizer);
    }

    public void Load(CheckpointReader checkpoint)
    {
        // The head learned on this backbone's features: another file under the same name would silently mismatch.
        string saved = System.Text.Encoding.ASCII.GetString(checkpoint.ReadBytes(ModelEntry));
        if (saved != _modelHash)
            throw new InvalidDataException($"{checkpoint.Path}: the model '{_config.Model}' has changed since this run started (its SHA-256 differs); the head was trained on the old backbone's features. Restore the file, or start over.");
        checkpoint.LoadModule(HeadEntry, _head);
        checkpoint.LoadOptimizer(OptimizerEntry, _optimizer);
    }

    public void SaveModel(string path, int steps)
    {
        var weights = StateDict.Export(_model.Network);
        foreach (var (name, tensor) in StateDict.Export(_head)) weights[UncertaintyHead.WeightPrefix + name] = tensor;
        ModelFile.Save(path, _model.Info with
        {
            Quality = QualityKind.Uncertainty,
            Source = $"faceforge train-uncertainty on {Path.GetFileName(_config.Model)} ({steps} steps of {_config.IdentitiesPerBatch}x{_config.ImagesPerIdentity})",
        }, weights);
    }

    public IReadOnlyDictionary<string, string> Describe(int steps, int totalSteps) => new Dictionary<string, string>
    {
        ["model"] = $"{_config.Model} ({_model.Info.Architecture}, frozen)",
        ["data"] = $"{_config.Data}: {_sampler.EligibleIdentities} identities with at least {_config.ImagesPerIdentity} images ({_sampler.EligibleImages} images) of {_dataset.IdentityCount}",
        ["steps"] = $"{steps} of {totalSteps} ({_config.IdentitiesPerBatch} identities x {_config.ImagesPerIdentity} images, {StepsPerEpoch} per epoch)",
        ["cached crops"] = _cache.Count.ToString(CultureInfo.InvariantCulture),
    };

    public void Dispose()
    {
        foreach (var (map, mean) in _cache.Values) { map.Dispose(); mean.Dispose(); }
        _cache.Clear();
        _optimizer.Dispose();
        _head.Dispose();
        _dataset.Dispose();
        _model.Dispose();
    }
}
