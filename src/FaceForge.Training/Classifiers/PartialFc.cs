using FaceForge.Training.Distributed;
using FaceForge.Training.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>
/// Partial FC (An et al., arXiv 2010.05222 / 2203.15565): the class-centre matrix is split into contiguous shards
/// and each step scores only a sample of each shard's centres: every class present in the batch plus random
/// negatives up to the sample rate. The softmax spans all shards through a max and a sum-of-exponentials
/// reduction, and the gradient (p - onehot) / N reaches only the sampled rows, whose momentum alone is updated
/// (rows not sampled catch up on their decaying velocity when next sampled: <see cref="CentreMomentum"/>).
/// A sample rate of 1 is plain model parallelism and equals the full softmax.
/// </summary>
/// <remarks>
/// Usage, one training step: <c>var loss = pfc.ForwardBackward(features.detach(), labels, out var grad);</c>
/// <c>features.backward(grad);</c> backbone optimizer step; <c>pfc.Step(lr, momentum, weightDecay);</c>.
/// Not thread-safe.
/// </remarks>
public sealed class PartialFc : IDisposable
{
    private readonly ClassShard[] _shards;
    private readonly ICommunicator _communicator;
    private readonly Generator _generator;
    private readonly Pending?[] _pending;
    private readonly MomentumCatchUp _catchUp = new();

    /// <summary>Creates the shards this process owns, centres drawn from N(0, 0.01) (see <see cref="ClassCentreInit"/>).</summary>
    public PartialFc(long classes, int embeddingSize, MarginHead head, PartialFcOptions options, ICommunicator? communicator = null)
    {
        _communicator = communicator ?? new SingleProcessCommunicator();
        int totalShards = options.Shards * _communicator.Size;
        options.Validate(classes);
        if (totalShards > classes) throw new ArgumentException($"More shards ({totalShards}) than classes ({classes}).", nameof(options));
        Classes = classes;
        Head = head;
        Options = options;
        var type = options.Storage == CentreStorage.Float16 ? ScalarType.Float16 : ScalarType.Float32;
        var ranges = ClassShard.Ranges(classes, totalShards);
        _shards = new ClassShard[options.Shards];
        for (int i = 0; i < options.Shards; i++)
        {
            var (start, count) = ranges[_communicator.Rank * options.Shards + i];
            var centres = ClassCentreInit.Rows(start, count, classes, embeddingSize, options.Seed, type);
            _shards[i] = new ClassShard(start, count, centres, torch.zeros([count, embeddingSize], type));
        }
        _generator = new Generator(0);
        _pending = new Pending?[_shards.Length];
    }

    /// <summary>All classes, over every process.</summary>
    public long Classes { get; }

    /// <summary>The margin head.</summary>
    public MarginHead Head { get; }

    /// <summary>The settings.</summary>
    public PartialFcOptions Options { get; }

    /// <summary>
    /// Steps taken. Negative sampling for a step is seeded from (seed, rank, shard, step), so a resumed run that
    /// restores this count samples exactly what an uninterrupted run would.
    /// </summary>
    public long SamplerStep { get; set; }

    /// <summary>This process's shards.</summary>
    public IReadOnlyList<ClassShard> Shards => _shards;

    /// <summary>Updates taken (<see cref="Step"/> calls); a step skipped for a non-finite loss does not count.</summary>
    public long Updates => _catchUp.Steps;

    internal MomentumCatchUp CatchUp => _catchUp;

    /// <summary>Sorted indices (into <paramref name="shard"/>) of the rows to score: all positives, then random negatives up to the rate.</summary>
    internal Tensor Sample(ClassShard shard, int shardIndex, Tensor positives)
    {
        long wanted = Math.Clamp((long)(Options.SampleRate * shard.Count), 1, shard.Count);
        if (Options.SampleRate >= 1) return torch.arange(shard.Count, dtype: ScalarType.Int64);
        if (positives.numel() >= wanted) return positives;
        _generator.manual_seed(Randomness.SeedMixer.Mix(Options.Seed, _communicator.Rank, shardIndex, SamplerStep));
        var scores = torch.rand([shard.Count], generator: _generator);
        scores.index_fill_(0, positives, 2.0); // positives outrank every random score
        return scores.topk((int)wanted).indexes.sort().Values;
    }

    /// <summary>
    /// Scores <paramref name="features"/> (this process's N_local x d batch; gathered across processes) against the
    /// sampled centres, and returns the mean loss over the global batch. <paramref name="featureGradient"/> is d loss /
    /// d features for this process's rows; the sampled centres' gradients wait for <see cref="Step"/>.
    /// </summary>
    public double ForwardBackward(Tensor features, Tensor labels, out Tensor featureGradient)
    {
        using var scope = torch.NewDisposeScope();
        var sizes = _communicator.AllGather(torch.tensor(new long[] { features.shape[0] }));
        if (sizes.unique().output.numel() != 1)
            throw new ArgumentException($"Batch sizes differ between ranks ({string.Join(", ", sizes.data<long>().ToArray())}); every rank must use the same batch size.");
        var x = _communicator.AllGather(features.detach().to_type(ScalarType.Float32)).requires_grad_(true);
        var y = _communicator.AllGather(labels.to_type(ScalarType.Int64));
        long n = y.shape[0];
        if (n > 0 && (y.min().item<long>() < 0 || y.max().item<long>() >= Classes))
            throw new ArgumentException($"Labels must lie in [0, {Classes}); found {y.min().item<long>()} to {y.max().item<long>()}.", nameof(labels));

        // Pass 1: sample and score each shard; each row's target cosine, wherever its class lives, is gathered for the
        // head (CurricularFace's running mean and hard-negative test).
        var parts = new List<(Tensor Cosine, Tensor Mapped, Tensor Here, Tensor Rows, Tensor Weights, Tensor? CaughtWeights, Tensor? CaughtVelocity)>();
        var targetCosine = torch.zeros(n);
        for (int s = 0; s < _shards.Length; s++)
        {
            var shard = _shards[s];
            var local = y - shard.Start;
            var here = local.ge(0).logical_and(local.lt(shard.Count));
            var rows = Sample(shard, s, local.masked_select(here).unique(sorted: true).output);
            // At rate 1 every row is updated every step, so none is ever behind: skip the per-row check.
            var (caughtWeights, caughtVelocity) = Options.Momentum == CentreMomentum.CatchUp && Options.SampleRate < 1 ? CaughtUpRows(shard, rows) : (null, null);
            var mapped = torch.where(here, torch.searchsorted(rows, local.clamp(0, shard.Count - 1)), torch.tensor(-1L));
            // At rate 1 every row is scored: use the centres themselves rather than a gathered copy.
            var weights = (caughtWeights?.detach() ?? (rows.numel() == shard.Count ? shard.Centres.detach() : shard.Centres.index_select(0, rows))).to_type(ScalarType.Float32).requires_grad_(true);
            var cosine = nn.functional.linear(nn.functional.normalize(x, dim: 1), nn.functional.normalize(weights, dim: 1)).clamp(-1, 1);
            targetCosine += torch.where(here, cosine.detach().gather(1, mapped.clamp_min(0).unsqueeze(1)).squeeze(1), torch.tensor(0f));
            parts.Add((cosine, mapped, here, rows, weights, caughtWeights, caughtVelocity));
        }
        _communicator.AllReduce(targetCosine, ReduceOperation.Sum);
        Head.Observe(targetCosine.mean());

        // Pass 2: logits, then the softmax over all shards by a max and a sum of exponentials.
        var logits = parts.Select(p => Head.Logits(p.Cosine, p.Mapped, x.norm(1), targetCosine)).ToList();
        var rowMax = torch.stack(logits.Select(l => l.detach().max(1).values).ToArray()).max(0).values;
        _communicator.AllReduce(rowMax, ReduceOperation.Max);
        var sumExp = torch.zeros(n);
        var targetLogit = torch.zeros(n);
        for (int i = 0; i < logits.Count; i++)
        {
            var shifted = logits[i].detach() - rowMax.unsqueeze(1);
            sumExp += shifted.exp().sum(1);
            targetLogit += torch.where(parts[i].Here, logits[i].detach().gather(1, parts[i].Mapped.clamp_min(0).unsqueeze(1)).squeeze(1), torch.tensor(0f));
        }
        _communicator.AllReduce(sumExp, ReduceOperation.Sum);
        _communicator.AllReduce(targetLogit, ReduceOperation.Sum);
        double loss = (sumExp.log() + rowMax - targetLogit).mean().item<float>();

        for (int i = 0; i < logits.Count; i++)
        {
            var p = (logits[i].detach() - rowMax.unsqueeze(1)).exp() / sumExp.unsqueeze(1);
            var onehot = torch.zeros_like(p).scatter_(1, parts[i].Mapped.clamp_min(0).unsqueeze(1), parts[i].Here.to_type(ScalarType.Float32).unsqueeze(1));
            logits[i].backward([(p - onehot) / n]);
            _pending[i]?.Dispose();
            _pending[i] = new Pending(parts[i].Rows.DetachFromDisposeScope(), parts[i].Weights.grad!.detach().clone().DetachFromDisposeScope(),
                parts[i].CaughtWeights?.DetachFromDisposeScope(), parts[i].CaughtVelocity?.DetachFromDisposeScope());
        }
        // Features are replicated on every rank: sum their partial gradients, then add the regulariser once.
        var gradient = x.grad!.clone();
        _communicator.AllReduce(gradient, ReduceOperation.Sum);
        if (Head.Regularizer(x.norm(1)) is { } extra)
        {
            loss += extra.item<float>();
            x.grad!.zero_();
            extra.backward();
            gradient += x.grad!;
        }
        long localRows = features.shape[0];
        featureGradient = gradient.narrow(0, _communicator.Rank * localRows, localRows).to_type(features.dtype).MoveToOuterDisposeScope();
        SamplerStep++;
        return loss;
    }

    /// <summary>
    /// <paramref name="rows"/> (float32) as they would stand had their velocity kept moving them since their last
    /// update, and that velocity decayed to now; (null, null) when none is behind. Written back by <see cref="Step"/>,
    /// so a step skipped for a non-finite loss leaves the stored rows as they were.
    /// </summary>
    private (Tensor? Weights, Tensor? Velocity) CaughtUpRows(ClassShard shard, Tensor rows)
    {
        if (_catchUp.Gap(shard.Updated.index_select(0, rows)) is not { } gap) return (null, null);
        using var noGrad = torch.no_grad();
        using var displacement = gap.Displacement;
        using var decay = gap.Decay;
        var velocity = shard.Momentum.index_select(0, rows).to_type(ScalarType.Float32);
        var weights = shard.Centres.index_select(0, rows).to_type(ScalarType.Float32) - displacement.unsqueeze(1) * velocity;
        return (weights, velocity.mul_(decay.unsqueeze(1)));
    }

    /// <summary>SGD with momentum and weight decay on the rows sampled by the last <see cref="ForwardBackward"/>, and only those.</summary>
    public void Step(double learningRate, double momentum, double weightDecay)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        for (int i = 0; i < _shards.Length; i++)
        {
            if (_pending[i] is not { } pending) continue;
            var shard = _shards[i];
            if (pending.Rows.numel() == shard.Count && shard.Centres.dtype == ScalarType.Float32 && pending.Weights is null)
            {
                // Every row sampled, float32 storage: update in place, no gathered copies.
                shard.Momentum.mul_(momentum).add_(pending.Gradient).add_(shard.Centres, alpha: weightDecay);
                shard.Centres.add_(shard.Momentum, alpha: -learningRate);
                shard.Updated.fill_(_catchUp.Steps);
                continue;
            }
            // Caught-up rows come from the forward pass; the others are read now.
            var weights = pending.Weights ?? shard.Centres.index_select(0, pending.Rows).to_type(ScalarType.Float32);
            var velocity = (pending.Velocity ?? shard.Momentum.index_select(0, pending.Rows).to_type(ScalarType.Float32)) * momentum + pending.Gradient + weights * weightDecay;
            // Locals, not temporaries: each must outlive the native call that reads it (see StateDict.Load).
            using var storedVelocity = velocity.to_type(shard.Momentum.dtype);
            shard.Momentum.index_copy_(0, pending.Rows, storedVelocity);
            using var storedCentres = (weights - velocity * learningRate).to_type(shard.Centres.dtype);
            shard.Centres.index_copy_(0, pending.Rows, storedCentres);
            shard.Updated.index_fill_(0, pending.Rows, _catchUp.Steps);
            if (pending.Weights is not null)
            {
                // Applied: a second Step without a forward pass must not apply the catch-up again.
                pending.Weights.Dispose();
                pending.Velocity?.Dispose();
                _pending[i] = pending with { Weights = null, Velocity = null };
            }
        }
        _catchUp.Record(learningRate, momentum);
    }

    /// <summary>The gradient of the sampled rows of shard <paramref name="index"/> from the last step (rows, gradient).</summary>
    internal (Tensor Rows, Tensor Gradient)? PendingGradient(int index) => _pending[index] is { } p ? (p.Rows, p.Gradient) : null;

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
        foreach (var pending in _pending) pending?.Dispose();
        _generator.Dispose(); // the communicator belongs to the caller
        _catchUp.Dispose();
    }

    /// <summary>What <see cref="Step"/> needs from the last forward pass of one shard: sampled rows, their gradient, and the caught-up rows if any.</summary>
    private sealed record Pending(Tensor Rows, Tensor Gradient, Tensor? Weights, Tensor? Velocity) : IDisposable
    {
        public void Dispose()
        {
            Rows.Dispose();
            Gradient.Dispose();
            Weights?.Dispose();
            Velocity?.Dispose();
        }
    }
}
