namespace FaceForge.Gallery;

/// <summary>
/// The recognition model a gallery's vectors came from, recorded at creation so that probes are only ever embedded
/// by the same network (<see cref="Models.ModelFingerprint"/>) and, for photos, found by the same detector.
/// </summary>
/// <param name="Fingerprint">The model's <see cref="Models.ModelFingerprint.Of"/> (hex SHA-256 of its weights).</param>
/// <param name="Architecture">The model's architecture name.</param>
/// <param name="EmbeddingSize">The length of every vector in the gallery.</param>
/// <param name="Template">The model's alignment template name.</param>
/// <param name="ModelPath">The model file given at creation (absolute), reopened by enrolment and identification.</param>
/// <param name="DetectorPath">The detector file given at creation (absolute), or null: inputs are then aligned crops.</param>
public sealed record GalleryModel(string Fingerprint, string Architecture, int EmbeddingSize, string Template, string ModelPath, string? DetectorPath)
{
    /// <summary>What would make the recorded model unreadable (an empty field, a size below one), or null.</summary>
    internal string? Problem() =>
        EmbeddingSize < 1 ? $"embedding size {EmbeddingSize} is not positive"
        : string.IsNullOrWhiteSpace(Fingerprint) ? "the fingerprint is empty"
        : string.IsNullOrWhiteSpace(Architecture) ? "the architecture is empty"
        : string.IsNullOrWhiteSpace(Template) ? "the template is empty"
        : string.IsNullOrWhiteSpace(ModelPath) ? "the model path is empty"
        : null;
}
