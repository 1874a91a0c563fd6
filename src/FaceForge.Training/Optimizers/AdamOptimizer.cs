using static TorchSharp.torch;

namespace FaceForge.Training.Optimizers;

/// <summary>
/// Adam (L2 weight decay added to the gradient): TorchSharp's <see cref="TorchSharp.Modules.Adam"/> (its parameter
/// groups, options and state, and the same arithmetic in the same order), with every Scalar of the update held alive
/// through the libtorch calls that read it (see <see cref="AdamWOptimizer"/>). AMSGrad and maximize are refused.
/// Thread-safety: one step at a time.
/// </summary>
public sealed class AdamOptimizer : TorchSharp.Modules.Adam
{
    /// <summary>An optimizer over <paramref name="parameters"/>.</summary>
    public AdamOptimizer(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(parameters, lr, beta1, beta2, eps, weightDecay)
    {
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        if (options.amsgrad == true || options.maximize == true) throw new NotSupportedException("FaceForge's Adam takes neither AMSGrad nor maximize.");
        AdamStep.Update(group.Parameters, Advance, options.LearningRate ?? 0, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.eps ?? 1e-8,
            coupledDecay: options.weight_decay ?? 0, decoupledDecay: 0);
    }, closure);

    private AdamStep.Moments Advance(TorchSharp.Modules.Parameter parameter)
    {
        var state = (State)_state[parameter.Handle];
        state.step += 1;
        return new(state.exp_avg, state.exp_avg_sq, state.step);
    }
}
