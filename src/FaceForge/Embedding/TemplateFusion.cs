namespace FaceForge.Embedding;

/// <summary>How several images of one identity become one template.</summary>
public enum TemplateMode
{
    /// <summary>The normalised sum of the unit-length embeddings (variances, if any, averaged).</summary>
    Mean,

    /// <summary>
    /// Probabilistic Face Embeddings' fusion: each dimension weighted by 1/sigma^2, so uncertain faces count less. The
    /// fused template's variance is the posterior's, 1 / sum_i 1/sigma_i^2 per dimension (smaller than any one
    /// face's); its mean is renormalised to unit length, as PFE's aggregation does.
    /// </summary>
    Fused,
}

/// <summary>Builds templates from several faces of one identity. Stateless and thread-safe.</summary>
public static class TemplateFusion
{
    /// <summary>One template from <paramref name="faces"/> (at least one, all of one length).</summary>
    /// <exception cref="ArgumentException">Fusion asked of faces without variances.</exception>
    public static FaceEmbedding Combine(IReadOnlyList<FaceEmbedding> faces, TemplateMode mode)
    {
        if (faces.Count == 0) throw new ArgumentException("A template needs at least one face.", nameof(faces));
        int length = faces[0].Vector.Length;
        if (faces.Any(f => f.Vector.Length != length)) throw new ArgumentException("The faces' embedding lengths differ.", nameof(faces));
        bool variances = faces.All(f => f.SigmaSq is not null);
        if (mode == TemplateMode.Fused && !variances)
            throw new ArgumentException("Fused templates weight faces by their variances: the model has no uncertainty head (use mean templates, or add one with faceforge train-uncertainty).");
        var vector = new float[length];
        float[]? sigmaSq = variances ? new float[length] : null;
        for (int d = 0; d < length; d++)
        {
            if (mode == TemplateMode.Fused)
            {
                double precision = 0, weighted = 0;
                foreach (var f in faces) { double w = 1.0 / f.SigmaSq![d]; precision += w; weighted += w * f.Vector[d]; }
                vector[d] = (float)(weighted / precision);
                sigmaSq![d] = (float)(1 / precision);
            }
            else
            {
                foreach (var f in faces) vector[d] += f.Vector[d];
                if (sigmaSq is not null) sigmaSq[d] = faces.Average(f => f.SigmaSq![d]);
            }
        }
        Similarity.Normalize(vector);
        // A template's quality is its own uncertainty's; a magnitude has no meaning for a sum of unit vectors.
        var template = new FaceEmbedding(vector, faces.Average(f => f.Magnitude), sigmaSq, null);
        return template with { Quality = -Math.Log(template.SigmaSqHarmonicMean ?? double.NaN) is var q && double.IsFinite(q) ? q : null };
    }
}
