using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// Turns cosines between normalised features and class centres into scaled logits, with a margin on each sample's
/// own class. Labels may be -1 for a sample whose class is not among the columns (Partial FC shards).
/// </summary>
public abstract class MarginHead : nn.Module
{
    /// <summary>Creates the head.</summary>
    protected MarginHead(string name, double scale) : base(name)
    {
        if (!(scale > 0)) throw new ArgumentException($"Scale must be positive (got {scale}).", nameof(scale));
        Scale = scale;
        _scale = Held.Hold(scale);
    }

    /// <summary>The numbers this head passes to libtorch, held as Scalars for its lifetime (<see cref="OwnedScalars"/>).</summary>
    private protected OwnedScalars Held { get; } = new();

    private readonly Scalar _scale;

    /// <summary><paramref name="logits"/> times the scale s.</summary>
    protected Tensor Scaled(Tensor logits) => logits.mul(_scale);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) Held.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>The logit scale s.</summary>
    public double Scale { get; }

    /// <summary>
    /// Whether the margin changes the target column alone (every other logit is s cos): classifiers may then score
    /// the other columns without the head, as Partial FC's blocked kernel does. CurricularFace reweights hard negatives, so not it.
    /// </summary>
    public virtual bool MarginOnTargetOnly => true;

    /// <summary>
    /// Logits for <paramref name="cosine"/> (N x C) given column labels (N, -1 for none) and feature norms (N).
    /// <paramref name="targetCosine"/> (N), when given, is each row's own-class cosine wherever that class lives;
    /// sharded classifiers pass it because a row's target may sit in another shard.
    /// </summary>
    public abstract Tensor Logits(Tensor cosine, Tensor labels, Tensor featureNorms, Tensor? targetCosine = null);

    /// <summary>
    /// Receives the mean target cosine of the whole batch once per training step, before <see cref="Logits"/>
    /// (CurricularFace's running statistic). Classifiers call it; with sharded classes they reduce across shards first.
    /// </summary>
    public virtual void Observe(Tensor targetCosineMean) { }

    /// <summary>An extra loss term on the feature norms (MagFace's regulariser), or null.</summary>
    public virtual Tensor? Regularizer(Tensor featureNorms) => null;

    /// <summary>Replaces each labelled row's target column by <paramref name="target"/> (N x 1).</summary>
    protected static Tensor WithTarget(Tensor cosine, Tensor labels, Tensor target)
    {
        var index = labels.clamp_min(RootedScalars.Zero).unsqueeze(1);
        var isTarget = torch.zeros_like(cosine, dtype: ScalarType.Bool).scatter_(1, index, torch.ones_like(index, dtype: ScalarType.Bool))
            .logical_and_(labels.ge(RootedScalars.Zero).unsqueeze(1));
        return torch.where(isTarget, target.expand_as(cosine), cosine);
    }

    /// <summary>Each labelled row's target cosine (N x 1; unlabelled rows read column 0 and must be masked by the caller).</summary>
    protected static Tensor TargetCosine(Tensor cosine, Tensor labels) => cosine.gather(1, labels.clamp_min(RootedScalars.Zero).unsqueeze(1));

    /// <summary>
    /// cos(theta + m) by the angle-addition formula, with ArcFace's fallback cos(theta) - m sin(m) where theta + m
    /// would pass pi (so the target stays monotonic in theta). <paramref name="margin"/> may be a scalar or N x 1.
    /// </summary>
    protected static Tensor AdditiveAngularMargin(Tensor cosY, Tensor margin)
    {
        // 1 - cos^2 and pi - m written as -x + 1 and -m + pi: the same values, with rooted Scalars.
        var sinY = (cosY * cosY).neg().add(RootedScalars.One, RootedScalars.One).clamp_min(RootedScalars.Tiny).sqrt();
        var shifted = cosY * margin.cos() - sinY * margin.sin();
        var threshold = margin.neg().add(RootedScalars.Pi, RootedScalars.One).cos();
        return torch.where(cosY > threshold, shifted, cosY - margin * margin.sin());
    }
}
