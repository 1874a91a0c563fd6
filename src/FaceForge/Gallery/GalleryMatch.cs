namespace FaceForge.Gallery;

/// <summary>A subject found for a probe.</summary>
/// <param name="Subject">The subject id.</param>
/// <param name="Score">The subject's score: the best cosine between the probe and any of its templates.</param>
/// <param name="FaceId">The id of that best template.</param>
public sealed record GalleryMatch(string Subject, double Score, long FaceId);

/// <summary>The answer to one probe: the best subjects and the open-set decision.</summary>
/// <param name="Matches">The best subjects, best first (at most top-k; fewer when the gallery has fewer subjects).</param>
/// <param name="Threshold">The gallery's open-set threshold, or null when none was set.</param>
/// <param name="Known">Whether the best match scores above the threshold (the probe is that subject); false without matches; null without a threshold.</param>
/// <param name="Index">"exact" or "hnsw": how candidates were found (HNSW candidates are always re-scored exactly).</param>
public sealed record GalleryIdentification(IReadOnlyList<GalleryMatch> Matches, double? Threshold, bool? Known, string Index)
{
    /// <summary>The best match, or null for an empty gallery.</summary>
    public GalleryMatch? Best => Matches.Count > 0 ? Matches[0] : null;
}

/// <summary>A gallery's figures.</summary>
/// <param name="Faces">Enrolled faces (templates).</param>
/// <param name="Subjects">Subjects holding at least one face (a subject created without faces is listed by Subjects() but not counted here: the count comes from the in-memory index, cheap enough for every health check).</param>
/// <param name="EmbeddingSize">Vector length.</param>
/// <param name="Precision">Stored precision.</param>
/// <param name="Index">"exact" or "hnsw": what identification searches now.</param>
/// <param name="HnswAbove">The size from which HNSW is used.</param>
/// <param name="Threshold">The open-set threshold, or null.</param>
/// <param name="ThresholdFpir">The target FPIR the threshold was calibrated for, or null (set by hand, or none).</param>
/// <param name="Model">The recorded model.</param>
/// <param name="Store">Where the gallery lives (a file path, a server).</param>
public sealed record GalleryStats(int Faces, int Subjects, int EmbeddingSize, GalleryPrecision Precision, string Index, int HnswAbove,
    double? Threshold, double? ThresholdFpir, GalleryModel Model, string Store);
