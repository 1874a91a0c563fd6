using FaceForge.Training.Distributed;
using FaceForge.Training.Heads;
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
        return tentative + Pass(probeY, labelsY, galleryX, labelsX, rollback: false);
    }

    /// <summary>
    /// Writes <paramref name="gallery"/> (gathered over processes) into the pool and returns the loss of
    /// <paramref name="probe"/> against it: this process's mean divided by the process count, so that summed
    /// gradients are the global mean's. With <paramref name="rollback"/> the write is undone afterwards.
    /// </summary>
    public Tensor Pass(Tensor probe, Tensor probeLabels, Tensor gallery, Tensor galleryLabels, bool rollback)
    {
        Tensor allGallery, allLabels;
        using (torch.no_grad())
        {
            allGallery = _world.AllGather(nn.functional.normalize(gallery.detach().to_type(ScalarType.Float32), dim: 1).contiguous());
            allLabels = _world.AllGather(galleryLabels.to_type(ScalarType.Int64).contiguous());
        }
        var existing = Pool.Write(allGallery, allLabels.data<long>().ToArray(), rollback);
        try
        {
            var labels = torch.tensor(probeLabels.to_type(ScalarType.Int64).data<long>().ToArray().Select(l => (long)Pool.EntryOf(l)).ToArray());
            var features = nn.functional.normalize(probe.to_type(ScalarType.Float32), dim: 1);
            var occupied = Pool.Occupied();
            Tensor second;
            using (torch.no_grad())
            {
                var refreshed = torch.zeros(Pool.Capacity, dtype: ScalarType.Bool);
                if (existing.Count > 0) refreshed.index_fill_(0, torch.tensor(existing.Select(e => (long)e).ToArray()), true);
                second = torch.where(refreshed.unsqueeze(1), Pool.Slots[1], Pool.Slots[0]);
            }
            var norms = probe.to_type(ScalarType.Float32).norm(1);
            var loss = PoolLoss(features, labels, Pool.Slots[0].clone(), occupied, norms) + PoolLoss(features, labels, second, occupied, norms);
            return _world.Size > 1 ? loss / _world.Size : loss;
        }
        finally
        {
            if (rollback) Pool.Rollback();
        }
    }

    /// <summary>
    /// Margin softmax over the occupied entries for the rows whose identity is in the pool (label >= 0), plus the
    /// clipped mean of the k largest cosines for the others.
    /// </summary>
    private Tensor PoolLoss(Tensor features, Tensor labels, Tensor weights, Tensor occupied, Tensor norms)
    {
        var cosine = features.matmul(weights.t()).clamp(-1, 1);
        var loss = torch.zeros(1).squeeze();
        var inPool = labels.ge(0);
        var known = inPool.nonzero().squeeze(1);
        if (known.numel() > 0)
        {
            var rows = cosine.index_select(0, known);
            var rowLabels = labels.index_select(0, known);
            var logits = Head.Logits(rows, rowLabels, norms.index_select(0, known)).masked_fill(occupied.logical_not().unsqueeze(0), double.NegativeInfinity);
            loss = loss + nn.functional.cross_entropy(logits, rowLabels);
        }
        var unknown = inPool.logical_not().nonzero().squeeze(1);
        if (unknown.numel() > 0 && Pool.Count > 0)
        {
            var rows = cosine.index_select(0, unknown).masked_fill(occupied.logical_not().unsqueeze(0), -1);
            var hardest = rows.topk(Math.Min(HardNegatives, Pool.Capacity), dim: 1).values.clamp_min(0);
            loss = loss + hardest.mean();
        }
        return loss;
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
