using System.Numerics.Tensors;

namespace FaceForge.Gallery;

/// <summary>
/// Random unit vectors for gallery tests and benchmarks: vector i of a seed is always the same, whatever the batch
/// it is made in, so a reader can check any stored face bit for bit against its index.
/// </summary>
internal static class SyntheticEmbeddings
{
    /// <summary>Vector <paramref name="index"/>: Gaussian components (Box-Muller on a counter hash), unit length.</summary>
    public static float[] Vector(int seed, long index, int dimensions)
    {
        var vector = new float[dimensions];
        ulong state = Mix((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)index);
        for (int j = 0; j < dimensions; j += 2)
        {
            double u1 = ((state = Mix(state + 0x9E3779B97F4A7C15UL)) >> 11) * (1.0 / (1UL << 53));
            double u2 = ((state = Mix(state + 0x9E3779B97F4A7C15UL)) >> 11) * (1.0 / (1UL << 53));
            double radius = Math.Sqrt(-2 * Math.Log(1 - u1));
            vector[j] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (j + 1 < dimensions) vector[j + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        return vector;
    }

    /// <summary>
    /// A probe near vector <paramref name="index"/>: that vector plus Gaussian noise of relative size
    /// <paramref name="noise"/> (0.75 gives a cosine of about 0.8, like two photos of one person), unit length.
    /// </summary>
    public static float[] Near(int seed, long index, int dimensions, float noise, int probeSeed)
    {
        var vector = Vector(seed, index, dimensions);
        var jitter = Vector(probeSeed, index, dimensions);
        TensorPrimitives.MultiplyAdd(jitter, noise, vector, vector);
        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        return vector;
    }

    /// <summary>SplitMix64's finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
