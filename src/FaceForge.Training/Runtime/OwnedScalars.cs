using TorchSharp;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Scalars an object holds for its own lifetime (a head's margin, a loss's weight), disposed with it: a number passed
/// straight to a tensor call becomes a temporary Scalar that the collector may free while libtorch reads it
/// (<see cref="RootedScalars"/>). Fill it in the owner's constructor; reading the held Scalars is then thread-safe.
/// </summary>
internal sealed class OwnedScalars : IDisposable
{
    private readonly List<Scalar> _held = [];

    /// <summary>A Scalar of <paramref name="value"/> that lives until <see cref="Dispose"/>.</summary>
    public Scalar Hold(double value)
    {
        var scalar = value.ToScalar();
        _held.Add(scalar);
        return scalar;
    }

    public void Dispose()
    {
        foreach (var scalar in _held) scalar.Dispose();
        _held.Clear();
    }
}
