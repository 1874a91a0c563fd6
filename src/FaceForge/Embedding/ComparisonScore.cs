namespace FaceForge.Embedding;

/// <summary>How two faces are compared.</summary>
public enum ComparisonScore
{
    /// <summary>Cosine similarity of the unit-length embeddings.</summary>
    Cosine,

    /// <summary>Mutual likelihood score of Probabilistic Face Embeddings (needs a model with an uncertainty head).</summary>
    MutualLikelihood,
}
