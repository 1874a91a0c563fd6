namespace FaceForge.Gallery;

/// <summary>A face to enrol: whose it is and its embedding.</summary>
/// <param name="Subject">The subject id (any non-empty text); a new id creates the subject, a known one adds a template to it.</param>
/// <param name="Vector">The embedding (normalised to unit length on enrolment).</param>
/// <param name="Quality">The model's quality of the face (higher is better), or null when the model carries none.</param>
/// <param name="Source">Where the face came from (an image path), kept for listings; may be null.</param>
public sealed record GalleryFace(string Subject, float[] Vector, double? Quality = null, string? Source = null);

/// <summary>An enrolled subject.</summary>
/// <param name="Id">The subject id.</param>
/// <param name="Faces">How many templates (faces) it has.</param>
/// <param name="Metadata">Free key/value pairs.</param>
public sealed record GallerySubject(string Id, int Faces, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A face as stored: its row id, subject, vector (decoded to float32) and quality.</summary>
/// <param name="Id">The face's id in the store (increasing with enrolment).</param>
/// <param name="Subject">The subject id.</param>
/// <param name="Vector">The stored vector.</param>
/// <param name="Quality">The quality recorded at enrolment, or null.</param>
/// <param name="Source">Where it came from, or null.</param>
public sealed record StoredFace(long Id, string Subject, float[] Vector, double? Quality, string? Source);
