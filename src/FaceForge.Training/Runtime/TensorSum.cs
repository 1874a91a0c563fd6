using static TorchSharp.torch;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Tensor + tensor without a temporary Scalar. TorchSharp's <c>a + b</c> calls <c>add(b, 1)</c>, which creates a
/// Scalar for alpha that nothing references once its handle is read; the garbage collector may finalize it, freeing
/// the native Scalar, while libtorch is still using it. libtorch then reads a freed Scalar and fails at random
/// ("Expected false to be true … toFloat at c10/core/Scalar.h", seen once in an evaluation over 300 images). A Scalar
/// held by a static field is never finalized.
/// </summary>
internal static class TensorSum
{
    /// <summary><paramref name="a"/> + <paramref name="b"/>.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, RootedScalars.One);
}
