using static TorchSharp.torch;

namespace FaceForge.Training.Optimizers;

/// <summary>
/// AdamW (decoupled weight decay): TorchSharp's <see cref="TorchSharp.Modules.AdamW"/> (its parameter groups, options
/// and state, stored in checkpoints under TorchSharp's class name, so checkpoints of either load; and the same
/// arithmetic in the same order), with every Scalar of
/// the update held alive through the libtorch calls that read it.
/// </summary>
/// <remarks>
/// TorchSharp's own step passes temporary Scalars whose finalizer may free them while libtorch still reads them, if a
/// garbage collection falls inside the call: a run died with "Expected false to be true … toFloat at Scalar.h:140" in
/// the step's add_ (docs/reliability.md). AMSGrad and maximize are not used by FaceForge and are refused.
/// Thread-safety: one step at a time.
/// </remarks>
public sealed class AdamWOptimizer : TorchSharp.Modules.AdamW
{
    /// <summary>An optimizer over <paramref name="groups"/> (each may set its own weight decay and learning rate).</summary>
    public AdamWOptimizer(IEnumerable<ParamGroup> groups, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(groups, lr, beta1, beta2, eps, weightDecay)
    {
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        if (options.amsgrad == true || options.maximize == true) throw new NotSupportedException("FaceForge's AdamW takes neither AMSGrad nor maximize.");
        AdamStep.Update(group.Parameters, Advance, options.LearningRate ?? 0, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.eps ?? 1e-8,
            coupledDecay: 0, decoupledDecay: options.weight_decay ?? 0);
    }, closure);

    private AdamStep.Moments Advance(TorchSharp.Modules.Parameter parameter)
    {
        var state = (State)_state[parameter.Handle];
        state.step += 1;
        return new(state.exp_avg, state.exp_avg_sq, state.step);
    }
}
