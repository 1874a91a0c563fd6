using FaceForge.Training.Distributed;
using FaceForge.Training.Heads;
using FaceForge.Training.Runtime;
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
    private readonly Tensor?[] _gradients;
    private readonly MomentumCatchUp _catchUp = new();

    // Constants passed to libtorch, rooted (RootedScalars): 2 ranks the positives above every random score in [0, 1).
    private static readonly Scalar AboveRandom = 2.0, MinusOneF = -1f;

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
        _gradients = new Tensor?[_shards.Length];
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
        if (Options.SampleRate >= 1) { using Scalar count = shard.Count; return torch.arange(RootedScalars.Zero, count, RootedScalars.One, dtype: ScalarType.Int64); }
        if (positives.numel() >= wanted) return positives;
        _generator.manual_seed(Randomness.SeedMixer.Mix(Options.Seed, _communicator.Rank, shardIndex, SamplerStep));
        var scores = torch.rand([shard.Count], generator: _generator);
        scores.index_fill_(0, positives, AboveRandom); // positives outrank every random score
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
        double loss = Head.MarginOnTargetOnly ? Blocked(x, y) : Generic(x, y);
        var gradient = x.grad!.clone();
        if (Head.Regularizer(x.norm(1)) is { } extra)
        {
            loss += extra.item<float>();
            x.grad!.zero_();
            extra.backward();
            gradient.add_(x.grad!, RootedScalars.One);
        }
        long localRows = features.shape[0];
        featureGradient = gradient.narrow(0, _communicator.Rank * localRows, localRows).to_type(features.dtype).MoveToOuterDisposeScope();
        SamplerStep++;
        return loss;
    }

    /// <summary>
    /// One shard's rows for this step: the sampled indices, their float32 centres (caught up if behind), and each row's
    /// column (-1: elsewhere). <c>Copy</c> is the weights again when they are a copy, which <see cref="Step"/> then
    /// updates in place; null when every row of float32 centres is scored, and the centres themselves are used.
    /// </summary>
    private (Tensor Rows, Tensor Weights, Tensor? Copy, Tensor? CaughtVelocity, Tensor Mapped, Tensor Here) Prepare(int s, Tensor y)
    {
        var shard = _shards[s];
        using Scalar start = shard.Start, count = shard.Count, last = shard.Count - 1;
        var local = y.sub(start);
        var here = local.ge(RootedScalars.Zero).logical_and(local.lt(count));
        var rows = Sample(shard, s, local.masked_select(here).unique(sorted: true).output);
        // At rate 1 every row is updated every step, so none is ever behind: skip the per-row check.
        var (caughtWeights, caughtVelocity) = Options.Momentum == CentreMomentum.CatchUp && Options.SampleRate < 1 ? CaughtUpRows(shard, rows) : (null, null);
        var mapped = torch.where(here, torch.searchsorted(rows, local.clamp(RootedScalars.Zero, last)), torch.tensor(-1L));
        if (caughtWeights is null && rows.numel() == shard.Count && shard.Centres.dtype == ScalarType.Float32)
            return (rows, shard.Centres.detach(), null, null, mapped, here);
        var weights = caughtWeights ?? (rows.numel() == shard.Count ? shard.Centres : shard.Centres.index_select(0, rows)).to_type(ScalarType.Float32);
        return (rows, weights, weights, caughtVelocity, mapped, here);
    }

    /// <summary>
    /// The kernel for heads whose margin touches the target column alone. Per block of centre rows: cosines by one
    /// product with the block's norms divided out (no normalised copy of the centres), exponentials in place; the
    /// target column is set apart and its margin applied to the N target cosines alone. Backward: per block, the
    /// feature gradient (g / |w|) W and the centre gradient (g / |w|)^T x projected off each centre, with no N x C
    /// temporaries beyond the kept exponentials.
    /// </summary>
    private double Blocked(Tensor x, Tensor y)
    {
        long n = y.shape[0];
        float scale = (float)Head.Scale;
        // Every number below goes to libtorch as a Scalar held through the calls (a temporary may be freed mid-call: RootedScalars).
        using Scalar scaled = scale, batch = n, rowNumerator = scale / n;
        var xn = nn.functional.normalize(x, dim: 1);
        var xd = xn.detach();
        var shards = new List<(Tensor Rows, Tensor Weights, Tensor? Copy, Tensor? CaughtVelocity, List<Block> Blocks)>();
        var maxCosine = torch.full(n, MinusOneF);
        var targetCosine = torch.zeros(n);
        for (int s = 0; s < _shards.Length; s++)
        {
            var (rows, weights, copy, caughtVelocity, mapped, _) = Prepare(s, y);
            var columns = mapped.data<long>().ToArray();
            var blocks = new List<Block>();
            for (long start = 0; start < weights.shape[0]; start += Options.BlockRows)
            {
                // Each block's temporaries go with it; only its norms and cosines stay.
                using var blockScope = torch.NewDisposeScope();
                long count = Math.Min(Options.BlockRows, weights.shape[0] - start);
                var block = weights.narrow(0, start, count);
                var norms = block.norm(1).clamp_min_(RootedScalars.Tiny);
                var cosine = xd.mm(block.t()).div_(norms).clamp_(RootedScalars.MinusOne, RootedScalars.One);
                maxCosine = torch.maximum(maxCosine, cosine.max(1).values).MoveToOuterDisposeScope();
                var (targetRows, targetColumns) = Targets(columns, start, count);
                if (targetRows.Length > 0)
                {
                    var r = torch.tensor(targetRows);
                    targetCosine.index_put_(cosine.index([r, torch.tensor(targetColumns)]), r);
                }
                blocks.Add(new Block(start, norms.MoveToOuterDisposeScope(), cosine.MoveToOuterDisposeScope(), targetRows, targetColumns));
            }
            shards.Add((rows, weights, copy, caughtVelocity, blocks));
        }
        _communicator.AllReduce(targetCosine, ReduceOperation.Sum);
        _communicator.AllReduce(maxCosine, ReduceOperation.Max);
        Head.Observe(targetCosine.mean());

        // The target logits, through the head on the N target cosines (autograd on N values, and on the norms for MagFace).
        var targetLeaf = targetCosine.clone().requires_grad_(true);
        var targetLogit = Head.Logits(targetLeaf.unsqueeze(1), torch.zeros(n, dtype: ScalarType.Int64), x.norm(1), targetCosine).squeeze(1);
        var rowMax = torch.maximum(maxCosine.mul(scaled), targetLogit.detach());
        var sumExp = torch.zeros(n);
        foreach (var shard in shards)
            foreach (var (_, _, values, targetRows, targetColumns) in shard.Blocks)
            {
                using var blockScope = torch.NewDisposeScope();
                if (targetRows.Length > 0) values.index_put_(torch.tensor(float.NegativeInfinity), torch.tensor(targetRows), torch.tensor(targetColumns));
                values.mul_(scaled).sub_(rowMax.unsqueeze(1)).exp_();
                sumExp.add_(values.sum(1), RootedScalars.One);
            }
        _communicator.AllReduce(sumExp, ReduceOperation.Sum);
        var targetExp = (targetLogit.detach() - rowMax).exp();
        sumExp.add_(targetExp, RootedScalars.One);
        double loss = (TensorSum.Add(sumExp.log(), rowMax) - targetLogit.detach()).mean().item<float>();

        // Backward. The target: d loss / d logit = (p - 1) / N through the head; every other column: s p / N.
        targetLogit.backward([(targetExp / sumExp).sub(RootedScalars.One).div(batch)]);
        var targetGradient = targetLeaf.grad!;
        var rowScale = sumExp.reciprocal().mul(rowNumerator).unsqueeze(1);
        var featureGradient = torch.zeros_like(xd);
        for (int s = 0; s < shards.Count; s++)
        {
            var shard = shards[s];
            var gradient = GradientBuffer(s, shard.Weights.shape[0]);
            foreach (var (start, norms, values, targetRows, targetColumns) in shard.Blocks)
            {
                using var blockScope = torch.NewDisposeScope();
                long count = values.shape[1];
                var g = values.mul_(rowScale);
                if (targetRows.Length > 0)
                {
                    var r = torch.tensor(targetRows);
                    g.index_put_(targetGradient.index_select(0, r), r, torch.tensor(targetColumns));
                }
                g.div_(norms); // d loss / d (x . w) = g / |w|
                var block = shard.Weights.narrow(0, start, count);
                featureGradient.addmm_(g, block);
                // d cos / d w = (x - cos w^) / |w|: the product below (written in place), minus its component along w.
                // g^T made contiguous first: libtorch's product with a transposed N-row operand is several times slower.
                var centreGradient = gradient.narrow(0, start, count).addmm_(g.t().contiguous(), xd, beta: 0);
                var along = (centreGradient * block).sum(1).div_(norms.pow(RootedScalars.Two)).neg_().unsqueeze(1);
                centreGradient.addcmul_(block, along, RootedScalars.One);
            }
            _pending[s]?.Dispose();
            _pending[s] = new Pending(shard.Rows.DetachFromDisposeScope(), gradient.DetachFromDisposeScope(),
                shard.Copy?.DetachFromDisposeScope(), shard.CaughtVelocity?.DetachFromDisposeScope());
        }
        // Features are replicated on every rank: sum the shards' parts, then through the normalisation.
        _communicator.AllReduce(featureGradient, ReduceOperation.Sum);
        xn.backward([featureGradient]);
        return loss;
    }

    /// <summary>
    /// Shard <paramref name="shard"/>'s centre-gradient rows, reused from step to step: a fresh buffer of this size (2 GB
    /// for a million 512-d rows) would be page-faulted in anew each step, which costs more than the product writing it.
    /// </summary>
    private Tensor GradientBuffer(int shard, long rows)
    {
        if (_gradients[shard] is not { } buffer || buffer.shape[0] < rows)
        {
            _pending[shard]?.Dispose(); // its gradient may view the old buffer
            _pending[shard] = null;
            _gradients[shard]?.Dispose();
            _gradients[shard] = buffer = torch.empty([rows, _shards[shard].Centres.shape[1]]).DetachFromDisposeScope();
        }
        return buffer.narrow(0, 0, rows);
    }

    /// <summary>The rows whose target column lies in [start, start + count) of a shard's sampled rows, and those columns relative to start.</summary>
    private static (long[] Rows, long[] Columns) Targets(long[] mapped, long start, long count)
    {
        var rows = new List<long>();
        var columns = new List<long>();
        for (int i = 0; i < mapped.Length; i++)
            if (mapped[i] >= start && mapped[i] < start + count)
            {
                rows.Add(i);
                columns.Add(mapped[i] - start);
            }
        return (rows.ToArray(), columns.ToArray());
    }

    /// <summary>Any head: per shard, logits through the head with autograd over the scored block.</summary>
    private double Generic(Tensor x, Tensor y)
    {
        long n = y.shape[0];
        using Scalar batch = n;

        // Pass 1: sample and score each shard; each row's target cosine, wherever its class lives, is gathered for the
        // head (CurricularFace's running mean and hard-negative test).
        var parts = new List<(Tensor Cosine, Tensor Mapped, Tensor Here, Tensor Rows, Tensor Weights, Tensor? Copy, Tensor? CaughtVelocity)>();
        var targetCosine = torch.zeros(n);
        for (int s = 0; s < _shards.Length; s++)
        {
            var (rows, prepared, copy, caughtVelocity, mapped, here) = Prepare(s, y);
            var weights = prepared.detach().requires_grad_(true);
            var cosine = nn.functional.linear(nn.functional.normalize(x, dim: 1), nn.functional.normalize(weights, dim: 1)).clamp(RootedScalars.MinusOne, RootedScalars.One);
            targetCosine.add_(torch.where(here, cosine.detach().gather(1, mapped.clamp_min(RootedScalars.Zero).unsqueeze(1)).squeeze(1), torch.tensor(0f)), RootedScalars.One);
            parts.Add((cosine, mapped, here, rows, weights, copy, caughtVelocity));
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
            sumExp.add_(shifted.exp().sum(1), RootedScalars.One);
            targetLogit.add_(torch.where(parts[i].Here, logits[i].detach().gather(1, parts[i].Mapped.clamp_min(RootedScalars.Zero).unsqueeze(1)).squeeze(1), torch.tensor(0f)), RootedScalars.One);
        }
        _communicator.AllReduce(sumExp, ReduceOperation.Sum);
        _communicator.AllReduce(targetLogit, ReduceOperation.Sum);
        double loss = (TensorSum.Add(sumExp.log(), rowMax) - targetLogit).mean().item<float>();

        for (int i = 0; i < logits.Count; i++)
        {
            var p = (logits[i].detach() - rowMax.unsqueeze(1)).exp() / sumExp.unsqueeze(1);
            var onehot = torch.zeros_like(p).scatter_(1, parts[i].Mapped.clamp_min(RootedScalars.Zero).unsqueeze(1), parts[i].Here.to_type(ScalarType.Float32).unsqueeze(1));
            logits[i].backward([(p - onehot).div(batch)]);
            _pending[i]?.Dispose();
            _pending[i] = new Pending(parts[i].Rows.DetachFromDisposeScope(), parts[i].Weights.grad!.detach().clone().DetachFromDisposeScope(),
                parts[i].Copy?.DetachFromDisposeScope(), parts[i].CaughtVelocity?.DetachFromDisposeScope());
        }
        // Features are replicated on every rank: sum their partial gradients.
        _communicator.AllReduce(x.grad!, ReduceOperation.Sum);
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
        using var moved = displacement.unsqueeze(1);
        var weights = shard.Centres.index_select(0, rows).to_type(ScalarType.Float32).addcmul_(velocity, moved, RootedScalars.MinusOne);
        using var decayed = decay.unsqueeze(1);
        return (weights, velocity.mul_(decayed));
    }

    /// <summary>SGD with momentum and weight decay on the rows sampled by the last <see cref="ForwardBackward"/>, and only those.</summary>
    public void Step(double learningRate, double momentum, double weightDecay)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        // Scalars held in locals: each must outlive the native calls that read it (see StateDict.Load).
        using Scalar mu = momentum, decay = weightDecay, step = -learningRate, updates = _catchUp.Steps;
        for (int i = 0; i < _shards.Length; i++)
        {
            if (_pending[i] is not { } pending) continue;
            var shard = _shards[i];
            if (pending.Rows.numel() == shard.Count && shard.Centres.dtype == ScalarType.Float32 && pending.Weights is null)
            {
                // Every row sampled, float32 storage: update in place, no gathered copies.
                shard.Momentum.mul_(mu).add_(pending.Gradient, RootedScalars.One).add_(shard.Centres, alpha: decay);
                shard.Centres.add_(shard.Momentum, alpha: step);
                shard.Updated.fill_(updates);
                continue;
            }
            // The rows as scored (gathered or caught up) come from the forward pass, else are read now; either way
            // this step owns them and updates them in place before writing them back.
            var weights = pending.Weights ?? shard.Centres.index_select(0, pending.Rows).to_type(ScalarType.Float32);
            var velocity = pending.Velocity ?? shard.Momentum.index_select(0, pending.Rows).to_type(ScalarType.Float32);
            velocity.mul_(mu).add_(pending.Gradient, RootedScalars.One).add_(weights, alpha: decay);
            using (var stored = velocity.to_type(shard.Momentum.dtype)) shard.Momentum.index_copy_(0, pending.Rows, stored);
            weights.add_(velocity, alpha: step);
            using (var stored = weights.to_type(shard.Centres.dtype)) shard.Centres.index_copy_(0, pending.Rows, stored);
            shard.Updated.index_fill_(0, pending.Rows, updates);
            // Applied: a second Step without a forward pass reads the rows afresh rather than reapplying a catch-up.
            pending.Weights?.Dispose();
            pending.Velocity?.Dispose();
            _pending[i] = pending with { Weights = null, Velocity = null };
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
        foreach (var gradient in _gradients) gradient?.Dispose();
        _generator.Dispose(); // the communicator belongs to the caller
        _catchUp.Dispose();
    }

    /// <summary>
    /// One block of a shard's scored rows in <see cref="Blocked"/>: its first row, the rows' norms, the N x rows
    /// cosines (exponentials, then gradients, in place), and the batch rows whose target column lies in it with those columns.
    /// </summary>
    private sealed record Block(long Start, Tensor Norms, Tensor Values, long[] TargetRows, long[] TargetColumns);

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
