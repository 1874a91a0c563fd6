using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>How Partial FC treats the momentum of class centres that a step did not sample.</summary>
public enum CentreMomentum
{
    /// <summary>
    /// A row's velocity keeps moving it while it is not sampled, decaying by the momentum each step, as SGD over the
    /// whole matrix would (arcface_torch's second release); the moves are applied in one closed-form step when the row
    /// is next sampled, so memory stays the first release's (centres, momentum, one update index per class).
    /// </summary>
    CatchUp,

    /// <summary>Velocity is applied only on the steps that sample the row, as the first release did.</summary>
    SampledOnly,
}

/// <summary>
/// The closed form behind <see cref="CentreMomentum.CatchUp"/>. Without a gradient a row last updated at step u moves at
/// every later step t by -lr_t mu^(t-u) v; this keeps, for every past step u, the sum of lr_t mu^(t-u) over the steps
/// taken since, so a row sampled after a gap catches up with one multiply: w -= sum * v, v *= mu^gap. Weight decay is
/// applied on sampled steps only. Cost per step: a window of about log(1e-12) / log(mu) past steps (262 at mu = 0.9);
/// memory: one double per step. Not thread-safe.
/// </summary>
internal sealed class MomentumCatchUp : IDisposable
{
    private const double Negligible = 1e-12;
    private Tensor _sums = torch.zeros(1024, dtype: ScalarType.Float64).DetachFromDisposeScope();
    private double _momentum = double.NaN;

    /// <summary>Steps recorded; the next step has this index.</summary>
    public long Steps { get; private set; }

    /// <summary>Adds step <see cref="Steps"/> (its learning rate) to the sums of the steps before it.</summary>
    public void Record(double learningRate, double momentum)
    {
        if (double.IsNaN(_momentum)) _momentum = momentum;
        else if (momentum != _momentum) throw new InvalidOperationException($"Partial FC momentum changed from {_momentum} to {momentum} mid-run; the catch-up needs one value.");
        long window = Math.Min(Steps, momentum <= 0 ? 0 : momentum >= 1 ? Steps : (long)Math.Ceiling(Math.Log(Negligible) / Math.Log(momentum)));
        if (window > 0)
        {
            // Step u = Steps - window + j gains lr * mu^(window - j) for j = 0 .. window - 1.
            // Numbers as Scalars held through the calls (a temporary one may be freed mid-call: RootedScalars).
            using Scalar first = window, lr = learningRate;
            using var mu = torch.tensor(momentum);
            using var exponents = torch.arange(first, RootedScalars.Zero, RootedScalars.MinusOne, dtype: ScalarType.Float64);
            using var gains = torch.pow(mu, exponents).mul_(lr);
            using var slice = _sums.narrow(0, Steps - window, window);
            slice.add_(gains, RootedScalars.One);
        }
        if (Steps + 1 > _sums.shape[0])
        {
            var grown = torch.zeros(2 * _sums.shape[0], dtype: ScalarType.Float64).DetachFromDisposeScope();
            using (var head = grown.narrow(0, 0, _sums.shape[0])) head.copy_(_sums);
            _sums.Dispose();
            _sums = grown;
        }
        Steps++;
    }

    /// <summary>
    /// For rows whose last update was at the steps <paramref name="updated"/> (-1: never, zero velocity), the
    /// displacement factor and the velocity decay that bring them to the eve of step <see cref="Steps"/>; null when
    /// every row is current.
    /// </summary>
    public (Tensor Displacement, Tensor Decay)? Gap(Tensor updated)
    {
        using var scope = torch.NewDisposeScope();
        using Scalar last = Steps - 1;
        var since = updated.clamp_min(RootedScalars.Zero);
        var gap = since.neg().add(last, RootedScalars.One);
        if (updated.numel() == 0 || gap.max().item<long>() <= 0) return null;
        var displacement = _sums.index_select(0, since).to_type(ScalarType.Float32);
        var decay = torch.pow(torch.tensor(double.IsNaN(_momentum) ? 0.0 : _momentum), gap.to_type(ScalarType.Float64)).to_type(ScalarType.Float32);
        return (displacement.MoveToOuterDisposeScope(), decay.MoveToOuterDisposeScope());
    }

    /// <summary>The sums of the steps taken and the momentum (NaN before the first step), for checkpoints.</summary>
    public (Tensor Sums, double Momentum) Export() => (_sums.narrow(0, 0, Steps).clone(), _momentum);

    /// <summary>Restores <see cref="Export"/>'s state.</summary>
    public void Import(Tensor sums, double momentum)
    {
        var restored = torch.zeros(Math.Max(1024, 2 * sums.shape[0]), dtype: ScalarType.Float64).DetachFromDisposeScope();
        using (var head = restored.narrow(0, 0, sums.shape[0])) head.copy_(sums);
        _sums.Dispose();
        _sums = restored;
        Steps = sums.shape[0];
        _momentum = momentum;
    }

    /// <inheritdoc/>
    public void Dispose() => _sums.Dispose();
}
