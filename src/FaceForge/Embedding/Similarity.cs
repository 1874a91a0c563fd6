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
}
