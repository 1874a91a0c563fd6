namespace FaceForge.Embedding;

/// <summary>Similarity of embeddings.</summary>
public static class Similarity
{
    /// <summary>Cosine similarity of two vectors (not assumed normalised).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Embedding lengths differ: {a.Length} and {b.Length}.");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(Math.Max(na * nb, 1e-24));
    }

    /// <summary>Scales <paramref name="v"/> to unit length in place.</summary>
    public static void Normalize(Span<float> v)
    {
        double n = 0;
        foreach (float x in v) n += x * x;
        float scale = (float)(1 / Math.Sqrt(Math.Max(n, 1e-24)));
        for (int i = 0; i < v.Length; i++) v[i] *= scale;
    }

    /// <summary>
    /// The mutual likelihood score of Probabilistic Face Embeddings (Shi and Jain, 2019): the log-likelihood that both
    /// faces are draws of one identity, -1/2 sum_d [(mu1 - mu2)^2 / (s1 + s2) + ln(s1 + s2)], without the constant
    /// D/2 ln 2 pi. Higher means more alike; it needs both faces' variances.
    /// </summary>
    public static double MutualLikelihood(FaceEmbedding a, FaceEmbedding b)
    {
        var (sa, sb) = (a.SigmaSq ?? throw NoVariance(), b.SigmaSq ?? throw NoVariance());
        if (a.Vector.Length != b.Vector.Length || sa.Length != a.Vector.Length || sb.Length != b.Vector.Length)
            throw new ArgumentException($"Embedding and variance lengths differ: {a.Vector.Length}/{sa.Length} and {b.Vector.Length}/{sb.Length}.");
        double sum = 0;
        for (int d = 0; d < sa.Length; d++)
        {
            double variance = (double)sa[d] + sb[d], diff = a.Vector[d] - b.Vector[d];
            sum += diff * diff / variance + Math.Log(variance);
        }
        return -0.5 * sum;
    }

    /// <summary>The score <paramref name="kind"/> of two faces.</summary>
    public static double Compare(FaceEmbedding a, FaceEmbedding b, ComparisonScore kind) =>
        kind == ComparisonScore.MutualLikelihood ? MutualLikelihood(a, b) : Cosine(a.Vector, b.Vector);

    private static ArgumentException NoVariance() =>
        new("The mutual likelihood score needs variances: the model has no uncertainty head (add one with faceforge train-uncertainty, or score with cosine).");
}
