using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// The combined margin cos(m1 theta + m2) - m3 (ArcFace: m2 = 0.5; CosFace: m3 = 0.35; SphereFace-like: m1 &gt; 1),
/// scale s = 64 by default. With <see cref="StraightThrough"/> the margin changes the forward value only and the
/// gradient flows as if through the plain cosine, as arcface_torch does; otherwise the exact gradient is used.
/// </summary>
public sealed class CombinedMarginHead : MarginHead
{
    /// <summary>Creates the head.</summary>
    public CombinedMarginHead(double scale = 64, double m1 = 1, double m2 = 0.5, double m3 = 0, bool straightThrough = false)
        : base(nameof(CombinedMarginHead), scale)
    {
        if (m1 < 1 || m2 < 0 || m3 < 0) throw new ArgumentException($"Margins must satisfy m1 >= 1, m2 >= 0, m3 >= 0 (got {m1}, {m2}, {m3}).");
        M1 = m1; M2 = m2; M3 = m3;
        StraightThrough = straightThrough;
        _m1 = Held.Hold(m1); _m2 = Held.Hold(m2); _m3 = Held.Hold(m3);
    }

    /// <summary>ArcFace (m2 = 0.5, s = 64).</summary>
    public static CombinedMarginHead ArcFace(double margin = 0.5, double scale = 64, bool straightThrough = false) => new(scale, 1, margin, 0, straightThrough);

    /// <summary>CosFace (m3 = 0.35, s = 64).</summary>
    public static CombinedMarginHead CosFace(double margin = 0.35, double scale = 64) => new(scale, 1, 0, margin);

    // acos's argument kept inside (-1, 1), and the margins, as Scalars held for the head's lifetime (OwnedScalars).
    private static readonly Scalar AcosLow = -1 + 1e-7, AcosHigh = 1 - 1e-7;
    private readonly Scalar _m1, _m2, _m3;

    /// <summary>Multiplicative angular margin.</summary>
    public double M1 { get; }

    /// <summary>Additive angular margin (radians).</summary>
    public double M2 { get; }

    /// <summary>Additive cosine margin.</summary>
    public double M3 { get; }

    /// <summary>Whether the margin is applied without gradient.</summary>
    public bool StraightThrough { get; }

    /// <inheritdoc/>
    public override Tensor Logits(Tensor cosine, Tensor labels, Tensor featureNorms, Tensor? targetCosine = null)
    {
        using var scope = torch.NewDisposeScope();
        var cosY = TargetCosine(cosine, labels);
        Tensor target;
        if (M1 == 1)
        {
            target = M2 > 0 ? AdditiveAngularMargin(cosY, torch.tensor(M2, dtype: cosY.dtype)) : cosY;
        }
        else
        {
            // Clamp away from +-1: acos has an infinite derivative there.
            var theta = cosY.clamp(AcosLow, AcosHigh).acos();
            var angle = theta.mul(_m1).add(_m2, RootedScalars.One);
            // SphereFace's monotonic extension past pi: (-1)^k cos(angle) - 2k, k = floor(angle / pi).
            var k = angle.div(RootedScalars.Pi).floor().detach();
            var sign = k.remainder(RootedScalars.Two).mul(RootedScalars.Two).neg().add(RootedScalars.One, RootedScalars.One);
            target = sign * angle.cos() - k.mul(RootedScalars.Two);
        }
        if (M3 > 0) target = target.sub(_m3);
        if (StraightThrough) target = TensorSum.Add(cosY, (target - cosY).detach());
        return Scaled(WithTarget(cosine, labels, target)).MoveToOuterDisposeScope();
    }
}
