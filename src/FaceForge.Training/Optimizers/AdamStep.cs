using FaceForge.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Optimizers;

/// <summary>One Adam / AdamW update of a parameter group, in TorchSharp's order of operations, with explicit Scalars.</summary>
internal static class AdamStep
{
    /// <summary>The moments of one parameter after its step counter is advanced.</summary>
    public readonly record struct Moments(Tensor First, Tensor Second, long Step);

    /// <param name="parameters">The group's parameters.</param>
    /// <param name="advance">Advances a parameter's step counter and returns its moments.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="coupledDecay">L2 penalty added to the gradient (Adam).</param>
    /// <param name="decoupledDecay">Weight decay applied to the parameter itself (AdamW).</param>
    public static void Update(IEnumerable<Parameter> parameters, Func<Parameter, Moments> advance, double lr, double beta1, double beta2, double eps, double coupledDecay, double decoupledDecay)
    {
        using Scalar shrink = (1 - lr * decoupledDecay).ToScalar(), l2 = coupledDecay.ToScalar(), b1 = beta1.ToScalar(), keep1 = (1 - beta1).ToScalar(),
            b2 = beta2.ToScalar(), keep2 = (1 - beta2).ToScalar(), epsilon = eps.ToScalar();
        foreach (var parameter in parameters)
        {
            var gradient = parameter.grad;
            if (gradient is null) continue;
            using var scope = NewDisposeScope();
            var (first, second, step) = advance(parameter);
            if (decoupledDecay != 0) parameter.mul_(shrink);
            if (coupledDecay != 0) gradient = gradient.add(parameter, l2);
            using Scalar root2 = Math.Sqrt(1 - Math.Pow(beta2, step)).ToScalar(), stepSize = (-lr / (1 - Math.Pow(beta1, step))).ToScalar();
            first.mul_(b1).add_(gradient, keep1);
            second.mul_(b2).addcmul_(gradient, gradient, keep2);
            var denominator = second.sqrt().div_(root2).add_(epsilon, RootedScalars.One);
            parameter.addcdiv_(first, denominator, stepSize);
        }
    }
}
