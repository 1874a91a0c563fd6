using FaceForge.Imaging;

namespace FaceForge.Detection;

/// <summary>A detector that also predicts, per stride-8 cell, the probability that a face there is occluded (AOFD's segmentation branch).</summary>
public interface IOcclusionPredictor
{
    /// <summary>Whether this model has the branch.</summary>
    bool PredictsOcclusion { get; }

    /// <summary>Occlusion probability per stride-8 cell of <paramref name="image"/> (row-major), or null without the branch.</summary>
    float[]? OcclusionProbabilities(RgbImage image);
}
