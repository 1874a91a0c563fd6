using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// CurricularFace (Huang et al., arXiv 2004.00288): ArcFace's target cos(theta_y + m), and each hard negative
/// (cos_j &gt; cos(theta_y + m)) becomes cos_j (t + cos_j), where t is a running mean of the target cosine
/// (t &lt;- 0.01 mean cos_y + 0.99 t, no gradient, in <see cref="Observe"/>). Early, t is near 0 and hard negatives count less; later more.
/// t is a registered buffer, so checkpoints keep it.
/// </summary>
public sealed class CurricularFaceHead : MarginHead
{
    // The running mean's momentum, as in the paper's code: t = 0.99 t + 0.01 mean(cos theta_y).
    private static readonly Scalar Keep = 0.99, Rate = 0.01;

    private readonly Tensor t;
    private readonly double _margin;

    /// <inheritdoc/>
    public override bool MarginOnTargetOnly => false;

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

    /// <inheritdoc/>
    /// <remarks>Updates t from the mean target cosine of the whole (global) batch, once per training step.</remarks>
    public override void Observe(Tensor targetCosineMean)
    {
        if (!training) return;
        using var noGrad = torch.no_grad();
        t.mul_(Keep).add_(targetCosineMean.to_type(t.dtype).mul(Rate), RootedScalars.One);
    }

    /// <inheritdoc/>
    public override Tensor Logits(Tensor cosine, Tensor labels, Tensor featureNorms, Tensor? targetCosine = null)
    {
        using var scope = torch.NewDisposeScope();
        // Unlabelled rows (their class in another shard) still need their own target to find hard negatives.
        var cosY = targetCosine is null ? TargetCosine(cosine, labels) : torch.where(labels.ge(RootedScalars.Zero).unsqueeze(1), TargetCosine(cosine, labels), targetCosine.unsqueeze(1).to_type(cosine.dtype));
        var target = AdditiveAngularMargin(cosY, torch.tensor(_margin, dtype: cosY.dtype));
        var hard = cosine > target.detach();
        var modulated = torch.where(hard, cosine * TensorSum.Add(t, cosine), cosine);
        return Scaled(WithTarget(modulated, labels, target)).MoveToOuterDisposeScope();
    }
}
