using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// MagFace (Meng et al., arXiv 2103.06627): the feature magnitude a, clamped to [l_a, u_a], sets an additive angular
/// margin m(a) rising linearly from l_m to u_m, and a regulariser lambda_g * mean(a / u_a^2 + 1 / a) rewards high
/// magnitude for easy samples, so the magnitude becomes a quality score.
/// </summary>
public sealed class MagFaceHead : MarginHead
{
    /// <summary>Creates the head; fails when lambda_g is below the bound that makes the optimum magnitude unique.</summary>
    public MagFaceHead(double scale = 64, double lowerMagnitude = 10, double upperMagnitude = 110, double lowerMargin = 0.45, double upperMargin = 0.8, double lambda = 35)
        : base(nameof(MagFaceHead), scale)
    {
        if (!(upperMagnitude > lowerMagnitude && lowerMagnitude > 0)) throw new ArgumentException($"Need 0 < l_a < u_a (got {lowerMagnitude}, {upperMagnitude}).");
        if (!(upperMargin >= lowerMargin && lowerMargin >= 0)) throw new ArgumentException($"Need 0 <= l_m <= u_m (got {lowerMargin}, {upperMargin}).");
        La = lowerMagnitude; Ua = upperMagnitude; Lm = lowerMargin; Um = upperMargin; Lambda = lambda;
        if (lambda < MinimumLambda)
            throw new ArgumentException($"MagFace lambda_g = {lambda} is below the feasibility bound s*k*u_a^2*l_a^2/(u_a^2 - l_a^2) = {MinimumLambda:0.###} for s = {scale}, l_a = {La}, u_a = {Ua}, l_m = {Lm}, u_m = {Um}; raise lambda_g.", nameof(lambda));
        _la = Held.Hold(La); _ua = Held.Hold(Ua); _lm = Held.Hold(Lm); _slope = Held.Hold((Um - Lm) / (Ua - La));
        _uaSquared = Held.Hold(Ua * Ua); _lambda = Held.Hold(Lambda);
    }

    private readonly Scalar _la, _ua, _lm, _slope, _uaSquared, _lambda;

    /// <summary>l_a.</summary>
    public double La { get; }

    /// <summary>u_a.</summary>
    public double Ua { get; }

    /// <summary>l_m.</summary>
    public double Lm { get; }

    /// <summary>u_m.</summary>
    public double Um { get; }

    /// <summary>lambda_g.</summary>
    public double Lambda { get; }

    /// <summary>The smallest lambda_g for which the margin is feasible (about 22.6 for the defaults).</summary>
    public double MinimumLambda => Scale * ((Um - Lm) / (Ua - La)) * Ua * Ua * La * La / (Ua * Ua - La * La);

    /// <summary>m(a) for clamped magnitudes.</summary>
    public Tensor Margin(Tensor featureNorms) => featureNorms.clamp(_la, _ua).sub(_la).mul(_slope).add(_lm, RootedScalars.One);

    /// <inheritdoc/>
    public override Tensor Logits(Tensor cosine, Tensor labels, Tensor featureNorms, Tensor? targetCosine = null)
    {
        using var scope = torch.NewDisposeScope();
        var cosY = TargetCosine(cosine, labels);
        var target = AdditiveAngularMargin(cosY, Margin(featureNorms).unsqueeze(1));
        return Scaled(WithTarget(cosine, labels, target)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor? Regularizer(Tensor featureNorms)
    {
        using var scope = torch.NewDisposeScope();
        var a = featureNorms.clamp(_la, _ua);
        return a.div(_uaSquared).add(a.reciprocal(), RootedScalars.One).mean().mul(_lambda).MoveToOuterDisposeScope();
    }
}
