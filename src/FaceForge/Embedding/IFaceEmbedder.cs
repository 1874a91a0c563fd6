using FaceForge.Imaging;
using FaceForge.Models;

namespace FaceForge.Embedding;

/// <summary>How the embedding of a horizontally flipped copy is combined with the original's (flip test).</summary>
public enum FlipMode
{
    /// <summary>No flip test.</summary>
    None,
    /// <summary>Sum of both embeddings, then normalised (InsightFace).</summary>
    Add,
    /// <summary>Both embeddings side by side, then normalised (twice the length; SphereFace-style evaluations).</summary>
    Concatenate,
}

/// <summary>Turns aligned face crops into L2-normalised embeddings.</summary>
/// <remarks>Implementations own native resources; whether concurrent calls are allowed is stated by each.</remarks>
public interface IFaceEmbedder : IDisposable
{
    /// <summary>The model's metadata (input size, template, normalisation).</summary>
    ModelInfo Info { get; }

    /// <summary>
    /// Embeds crops already aligned to <see cref="ModelInfo.AlignmentTemplate"/> at the model's input size: one
    /// unit-length vector per crop (length EmbeddingSize, or twice that with <see cref="FlipMode.Concatenate"/>), with
    /// its magnitude, variances (probabilistic models) and quality (<see cref="ModelInfo.Quality"/>).
    /// </summary>
    FaceEmbedding[] EmbedFaces(IReadOnlyList<RgbImage> crops, FlipMode flip);

    /// <summary>The unit-length vectors of <see cref="EmbedFaces"/> alone.</summary>
    float[][] Embed(IReadOnlyList<RgbImage> crops, FlipMode flip) => EmbedFaces(crops, flip).Select(f => f.Vector).ToArray();
}
