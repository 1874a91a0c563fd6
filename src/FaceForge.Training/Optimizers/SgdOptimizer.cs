using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Optimizers;

/// <summary>
/// SGD with momentum, L2 weight decay and optional Nesterov momentum: TorchSharp's <see cref="TorchSharp.Modules.SGD"/>
/// (its parameter groups, options and state, stored in checkpoints under TorchSharp's class name, so checkpoints of
/// either load; and the same arithmetic in the same order), with every Scalar of the update held alive through the libtorch calls that read it.
/// </summary>
/// <remarks>
/// TorchSharp's own step passes temporary Scalars (momentum, 1 - dampening, -lr) whose finalizer may free them while
/// libtorch still reads them, if a garbage collection falls inside the call; training then dies with "Expected false to
/// be true … Scalar.h:140" (docs/reliability.md). Maximize and dampening are not used by FaceForge and are refused.
/// Thread-safety: one step at a time.
/// </remarks>
public sealed class SgdOptimizer : TorchSharp.Modules.SGD
{
    /// <summary>An optimizer over <paramref name="groups"/> (each may set its own weight decay and learning rate).</summary>
    public SgdOptimizer(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double weightDecay = 0, bool nesterov = false)
        : base(groups, lr, momentum, 0, weightDecay, nesterov)
    {
    }

    /// <summary>An optimizer over <paramref name="parameters"/>, one group.</summary>
    public SgdOptimizer(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr, double momentum = 0, double weightDecay = 0, bool nesterov = false)
        : this([new ParamGroup(parameters, new Options())], lr, momentum, weightDecay, nesterov)
    {
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        if (options.maximize == true || options.dampening is not (null or 0))
            throw new NotSupportedException("FaceForge's SGD takes neither maximize nor dampening.");
        double momentum = options.momentum ?? 0, decay = options.weight_decay ?? 0, lr = options.LearningRate ?? 0;
        using Scalar decayScalar = decay.ToScalar(), momentumScalar = momentum.ToScalar(), one = 1.0.ToScalar(), rate = (-lr).ToScalar();
        foreach (var parameter in group.Parameters)
        {
            var gradient = parameter.grad;
            if (gradient is null) continue;
            using var scope = NewDisposeScope();
            var state = (State)_state[parameter.Handle];
            if (decay != 0) gradient = gradient.add(parameter, decayScalar);
            if (momentum != 0)
            {
                if (state.momentum_buffer is null) state.momentum_buffer = gradient.clone().detach().DetachFromDisposeScope();
                else state.momentum_buffer.mul_(momentumScalar).add_(gradient, one);
                gradient = options.nesterov == true ? gradient.add(state.momentum_buffer, momentumScalar) : state.momentum_buffer;
            }
            parameter.add_(gradient, rate);
        }
    }, closure);
}
