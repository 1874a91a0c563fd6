using FaceForge.Models;

namespace FaceForge.Embedding;

/// <summary>One face as a recognition model sees it: the unit-length embedding and what the model says of its quality.</summary>
/// <param name="Vector">The L2-normalised embedding (the mean, for a probabilistic model).</param>
/// <param name="Magnitude">The embedding's norm before normalisation (with a flip test, the mean of both copies'); a quality only for <see cref="QualityKind.Magnitude"/> models.</param>
/// <param name="SigmaSq">The variance per dimension of a Probabilistic Face Embeddings head (as long as <paramref name="Vector"/>), or null.</param>
/// <param name="Quality">The model's quality score, higher meaning more trustworthy for every kind: the magnitude, or minus the log of the variances' harmonic mean; null when the model carries none.</param>
public sealed record FaceEmbedding(float[] Vector, float Magnitude, float[]? SigmaSq, double? Quality)
{
    /// <summary>The harmonic mean of <see cref="SigmaSq"/> (PFE's one-number uncertainty), or null.</summary>
    public double? SigmaSqHarmonicMean => SigmaSq is null ? null : HarmonicMean(SigmaSq);

    /// <summary>Builds the record, deriving <see cref="Quality"/> from <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentException">An uncertainty model gave no variances, or a variance is not positive and finite.</exception>
    public static FaceEmbedding Create(float[] vector, float magnitude, float[]? sigmaSq, QualityKind kind)
    {
        double? quality = kind switch
        {
            QualityKind.Magnitude => magnitude,
            QualityKind.Uncertainty => -Math.Log(HarmonicMean(sigmaSq ?? throw new ArgumentException("An uncertainty model must give variances.", nameof(sigmaSq)))),
            _ => null,
        };
        if (sigmaSq is not null)
        {
            if (sigmaSq.Length != vector.Length) throw new ArgumentException($"{sigmaSq.Length} variances for an embedding of {vector.Length}.", nameof(sigmaSq));
            int bad = Array.FindIndex(sigmaSq, s => !(s > 0 && float.IsFinite(s)));
            if (bad >= 0) throw new ArgumentException($"The uncertainty head gave variance {sigmaSq[bad]} in dimension {bad}: not positive and finite (a corrupt head?).", nameof(sigmaSq));
        }
        return new FaceEmbedding(vector, magnitude, sigmaSq, quality);
    }

    private static double HarmonicMean(float[] values)
    {
        double inverse = 0;
        foreach (float v in values) inverse += 1.0 / v;
        return values.Length / inverse;
    }
}
