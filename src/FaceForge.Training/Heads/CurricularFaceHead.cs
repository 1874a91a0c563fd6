using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// CurricularFace (Huang et al., arXiv 2004.00288): ArcFace's target cos(theta_y + m), and each hard negative
/// (cos_j &gt; cos(theta_y + m)) becomes cos_j (t + cos_j), where t is a running mean of the target cosine
/// (t &lt;- 0.01 mean cos_y + 0.99 t, no gradient). Early, t is near 0 and hard negatives count less; later more.
/// t is a registered buffer, so checkpoints keep it.
/// </summary>
public sealed class CurricularFaceHead : MarginHead
{
    private readonly Tensor t;
    private readonly double _margin;

    /// <summary>Creates the head.</summary>
    public CurricularFaceHead(double margin = 0.5, double scale = 64) : base(nameof(CurricularFaceHead), scale)
    {
        if (margin < 0) throw new ArgumentException($"Margin must be non-negative (got {margin}).", nameof(margin));
        _margin = margin;
        t = torch.zeros(1);
        register_buffer("t", t);
    }

    /// <summary>The current t.</summary>
    public double T => t.item<float>();

    /// <summary>
    /// The target-cosine mean that updates t. Partial FC passes the mean over all shards' samples here; by default it
    /// is this batch's own.
    /// </summary>
    public Func<Tensor, Tensor> BatchMean { get; set; } = cosY => cosY.mean();

    /// <inheritdoc/>
    public override Tensor Logits(Tensor cosine, Tensor labels, Tensor featureNorms)
    {
        using var scope = torch.NewDisposeScope();
        var cosY = TargetCosine(cosine, labels);
        var target = AdditiveAngularMargin(cosY, torch.tensor(_margin, dtype: cosY.dtype));
        if (training)
        {
            using var noGrad = torch.no_grad();
            var labelled = labels.ge(0);
            var mean = labelled.any().item<bool>() ? BatchMean(cosY.squeeze(1).masked_select(labelled)) : t.squeeze();
            t.mul_(0.99).add_(mean * 0.01);
        }
        var hard = cosine > target.detach();
        var modulated = torch.where(hard, cosine * (t + cosine), cosine);
        return (WithTarget(modulated, labels, target) * Scale).MoveToOuterDisposeScope();
    }
}
