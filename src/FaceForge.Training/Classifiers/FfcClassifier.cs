using FaceForge.Training.Distributed;
using FaceForge.Training.Heads;
using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>
/// FFC (Wang et al., arXiv 2105.10375): no class-centre matrix; the probe network's features are scored against a
/// <see cref="ClassPool"/> of identity features written by the gallery network (an EMA of the probe network). A
/// sample whose identity is in the pool gets the margin softmax over the pool's entries; a sample whose identity is
/// not gets the mean of its k largest cosines to the pool, clipped at 0 (pushed away from every identity held),
/// k = min(max(0.0002 Q, 3), 10). Each pass scores two matrices, as the reference implementation does: every entry's
/// slot 0, and the same with slot 1 for the entries this pass wrote that already held their identity (so an identity
/// seen before is scored against its old and its new feature).
/// </summary>
/// <remarks>
/// One step is two passes with the roles swapped (<see cref="Step"/>). Across processes the gallery features and
/// labels are all-gathered, so every process writes the same pool. Not thread-safe.
/// </remarks>
public sealed class FfcClassifier : IDisposable
{
    private readonly ICommunicator _world;

    /// <summary>A pool of <paramref name="poolSize"/> entries for <paramref name="embeddingSize"/>-d features.</summary>
    public FfcClassifier(int poolSize, int embeddingSize, MarginHead head, ICommunicator? communicator = null)
    {
        if (head is MagFaceHead or CurricularFaceHead)
            throw new ArgumentException("FFC takes ArcFace or CosFace: its pool holds features, not trained centres, so MagFace's and CurricularFace's statistics have no meaning there.", nameof(head));
        Pool = new ClassPool(poolSize, embeddingSize);
        Head = head;
        _world = communicator ?? new SingleProcessCommunicator();
        HardNegatives = HardNegativeCount(poolSize);
    }

    /// <summary>The pool.</summary>
    public ClassPool Pool { get; }

    /// <summary>The margin head (ArcFace or CosFace).</summary>
    public MarginHead Head { get; }

    /// <summary>k, the cosines averaged for a sample whose identity is not in the pool.</summary>
    public int HardNegatives { get; }

    /// <summary>k = min(max(0.0002 Q, 3), 10), as the reference implementation computes it.</summary>
    public static int HardNegativeCount(int poolSize) => Math.Min(Math.Max((int)(poolSize * 0.0002), 3), 10);

    /// <summary>
    /// One FFC step's loss (differentiable through the probe features). <paramref name="probeX"/> and
    /// <paramref name="probeY"/> are the probe network's features of the two halves of the step's images (each half: one
    /// image of every identity pair, then half of the instance batch), <paramref name="galleryX"/> and
    /// <paramref name="galleryY"/> the gallery network's (no gradient). First the Y half is written tentatively and
    /// X is scored, then rolled back; then the X half is written for good and Y is scored: so the pool keeps one
    /// write per step, and every pair's image is scored against its partner's gallery feature.
    /// </summary>
    public Tensor Step(Tensor probeX, Tensor labelsX, Tensor galleryX, Tensor probeY, Tensor labelsY, Tensor galleryY)
    {
        var tentative = Pass(probeX, labelsX, galleryY, labelsY, rollback: true);
        return TensorSum.Add(tentative, Pass(probeY, labelsY, galleryX, labelsX, rollback: false));
    }

    /// <summary>
    /// Writes <paramref name="gallery"/> (gathered over processes) into the pool and returns the loss of
    /// <paramref name="probe"/> against it: this process's mean divided by the process count, so that summed
    /// gradients average the processes' means (as the reference's data-parallel training does; with different counts
    /// of known and unknown rows per process that is not exactly one process's mean over the global batch). With
    /// <paramref name="rollback"/> the write is undone afterwards. NaN, with nothing written, when a gallery feature is
    /// not finite.
    /// </summary>
    /// <remarks>
    /// The pool takes no gradient, so the gradient of the cosines is worked out here, before the pool changes again,
    /// and the returned tensor carries the loss's value with the gradient (d loss / d cos) W into the probe features:
    /// no copy of the pool is kept for autograd. The second matrix differs from the first only in the refreshed
    /// entries, so only those columns are scored again.
    /// </remarks>
    public Tensor Pass(Tensor probe, Tensor probeLabels, Tensor gallery, Tensor galleryLabels, bool rollback)
    {
        Tensor allGallery, allLabels;
        using (torch.no_grad())
        {
            allGallery = _world.AllGather(nn.functional.normalize(gallery.detach().to_type(ScalarType.Float32), dim: 1).contiguous());
            allLabels = _world.AllGather(galleryLabels.to_type(ScalarType.Int64).contiguous());
        }
        // Non-finite gallery features would poison the pool until evicted: skip the pass (the step counts as bad).
        if (!allGallery.isfinite().all().item<bool>()) return torch.tensor(float.NaN);
        var existing = Pool.Write(allGallery, allLabels.data<long>().ToArray(), rollback);
        try
        {
            var entries = probeLabels.to_type(ScalarType.Int64).data<long>().ToArray().Select(l => (long)Pool.EntryOf(l)).ToArray();
            var features = nn.functional.normalize(probe.to_type(ScalarType.Float32), dim: 1);
            Tensor featureGradient;
            double value;
            using (torch.no_grad())
            {
                var f = features.detach();
                var occupied = Pool.Occupied();
                var first = Pool.Slots[0];
                var cosine = f.mm(first.t()).clamp_(RootedScalars.MinusOne, RootedScalars.One);
                Tensor? refreshed = existing.Count > 0 ? torch.tensor(existing.Order().Select(e => (long)e).ToArray()) : null;
                var second = cosine;
                Tensor? change = null;
                if (refreshed is not null)
                {
                    change = Pool.Slots[1].index_select(0, refreshed) - first.index_select(0, refreshed);
                    second = cosine.clone().index_copy_(1, refreshed, f.mm(Pool.Slots[1].index_select(0, refreshed).t()).clamp_(RootedScalars.MinusOne, RootedScalars.One));
                }
                // Gradients of both matrices; the second reads slot 1 in the refreshed columns: g1 W + g2 W' = (g1 + g2) W + g2[:, r] (W'[r] - W[r]).
                var (value2, gradient2) = PoolLoss(second, entries, occupied);
                featureGradient = refreshed is not null ? gradient2.index_select(1, refreshed).mm(change!) : torch.zeros_like(f);
                var (value1, gradient1) = PoolLoss(cosine, entries, occupied);
                featureGradient.add_(gradient1.add_(gradient2, RootedScalars.One).mm(first), RootedScalars.One);
                value = value1 + value2;
            }
            if (_world.Size > 1)
            {
                value /= _world.Size;
                using Scalar processes = _world.Size;
                featureGradient.div_(processes);
            }
            // A scalar worth the loss whose gradient into the features is featureGradient.
            var surrogate = (features * featureGradient).sum();
            using Scalar worth = value;
            return TensorSum.Add(surrogate, surrogate.detach().neg().add(worth, RootedScalars.One));
        }
        finally
        {
            if (rollback) Pool.Rollback();
        }
    }

    /// <summary>
    /// The loss over one matrix of cosines (N x Q) and its gradient: the margin softmax over the occupied entries for
    /// the rows whose identity is in the pool (entry >= 0, mean over those rows), plus the mean of the k largest
    /// cosines clipped at 0 over the others (mean over their N' x k values), as the reference computes both.
    /// </summary>
    private (double Value, Tensor Gradient) PoolLoss(Tensor cosine, long[] entries, Tensor occupied)
    {
        float scale = (float)Head.Scale;
        // Every number below goes to libtorch as a Scalar held through the calls (a temporary may be freed mid-call: RootedScalars).
        using Scalar scaled = scale;
        var gradient = torch.zeros_like(cosine);
        double value = 0;
        var free = occupied.logical_not().unsqueeze(0);
        long[] known = Enumerable.Range(0, entries.Length).Where(i => entries[i] >= 0).Select(i => (long)i).ToArray();
        if (known.Length > 0)
        {
            var rows = torch.tensor(known);
            var columns = torch.tensor(known.Select(i => entries[i]).ToArray()).unsqueeze(1);
            var c = cosine.index_select(0, rows);
            var targetCosine = c.gather(1, columns).squeeze(1).requires_grad_(true);
            Tensor targetLogit;
            using (torch.enable_grad())
                targetLogit = Head.Logits(targetCosine.unsqueeze(1), torch.zeros(known.Length, dtype: ScalarType.Int64), torch.ones(known.Length)).squeeze(1);
            var target = targetLogit.detach();
            // Every other occupied column is s cos; the target column is set apart and added back with its margin.
            using Scalar rowCount = known.Length, rowNumerator = scale / known.Length;
            c.masked_fill_(free, RootedScalars.NegativeInfinity).scatter_(1, columns, torch.full([known.Length, 1], RootedScalars.NegativeInfinityF));
            var rowMax = torch.maximum(c.max(1).values.mul(scaled), target);
            var exps = c.mul_(scaled).sub_(rowMax.unsqueeze(1)).exp_();
            var targetExp = (target - rowMax).exp();
            var sum = TensorSum.Add(exps.sum(1), targetExp);
            value += (TensorSum.Add(sum.log(), rowMax) - target).mean().item<float>();
            using (torch.enable_grad()) targetLogit.backward([(targetExp / sum).sub(RootedScalars.One).div(rowCount)]);
            var rowGradient = exps.mul_(sum.reciprocal().mul(rowNumerator).unsqueeze(1)).scatter_(1, columns, targetCosine.grad!.unsqueeze(1));
            gradient.index_copy_(0, rows, rowGradient);
        }
        long[] unknown = Enumerable.Range(0, entries.Length).Where(i => entries[i] < 0).Select(i => (long)i).ToArray();
        if (unknown.Length > 0 && Pool.Count > 0)
        {
            var rows = torch.tensor(unknown);
            // k over the filled entries only: free columns would add zeros to the mean.
            var (values, positions) = cosine.index_select(0, rows).masked_fill_(free, RootedScalars.MinusOne).topk(Math.Min(HardNegatives, Pool.Count), dim: 1);
            long count = values.numel();
            using Scalar valueCount = count;
            value += values.clamp_min(RootedScalars.Zero).sum().item<float>() / count;
            var weights = values.gt(RootedScalars.Zero).to_type(ScalarType.Float32).div_(valueCount);
            gradient.index_copy_(0, rows, torch.zeros(unknown.Length, cosine.shape[1]).scatter_(1, positions, weights));
        }
        return (value, gradient);
    }

    /// <summary>The gallery network's update: each parameter g = momentum g + (1 - momentum) p (buffers are the gallery network's own).</summary>
    public static void UpdateGallery(nn.Module gallery, nn.Module probe, double momentum)
    {
        using var noGrad = torch.no_grad();
        using Scalar keep = momentum, take = 1 - momentum; // held for the native calls (see StateDict.Load)
        foreach (var (g, p) in gallery.parameters().Zip(probe.parameters()))
            g.mul_(keep).add_(p, alpha: take);
    }

    /// <inheritdoc/>
    public void Dispose() => Pool.Dispose(); // the communicator belongs to the caller
}
