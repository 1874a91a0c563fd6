using TorchSharp;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Constant Scalars held by static fields, so never finalized while libtorch reads them: TorchSharp turns a number
/// argument (<c>x.clamp(-1, 1)</c>, <c>1 - x</c>, <c>x * s</c>) into a temporary Scalar that the garbage collector may
/// free mid-call (<see cref="TensorSum"/>, docs/reliability.md). Each has the type the literal it replaces had (int or
/// double), so results are unchanged. Read-only after creation: safe to share between threads.
/// </summary>
internal static class RootedScalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar MinusOne = (-1).ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    public static readonly Scalar Pi = Math.PI.ToScalar();

    /// <summary>-inf, the mask of a softmax's excluded columns: double for fills of any float tensor, float where it sets a new tensor's type.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar(), NegativeInfinityF = float.NegativeInfinity.ToScalar();

    /// <summary>1e-12, the floor under sin^2 in the additive angular margin.</summary>
    public static readonly Scalar Tiny = 1e-12.ToScalar();
}
