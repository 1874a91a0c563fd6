using FaceForge.Models;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>The face detectors FaceForge builds in TorchSharp, by name.</summary>
public static class DetectorCatalog
{
    /// <summary>RetinaFace, MobileNet-0.25 body (biubug6 layout).</summary>
    public const string RetinaFace = "retinaface-mnet025";

    /// <summary>The same network with an occlusion-segmentation branch, trained with adversarial feature masks (AOFD).</summary>
    public const string OcclusionAware = "aofd-mnet025";

    /// <summary>The known detector names.</summary>
    public static IReadOnlyList<string> Names { get; } = [RetinaFace, OcclusionAware];

    /// <summary>Whether <paramref name="architecture"/> names a detector.</summary>
    public static bool IsDetector(string architecture) => Names.Contains(architecture, StringComparer.OrdinalIgnoreCase);

    /// <summary>The <see cref="ModelInfo"/> of <paramref name="architecture"/> (nominal 640x640 input; any size runs).</summary>
    public static ModelInfo Defaults(string architecture) => IsDetector(architecture)
        ? new ModelInfo
        {
            Architecture = architecture.ToLowerInvariant(), Kind = ModelInfo.DetectionKind, InputWidth = 640, InputHeight = 640, Template = "none",
            EmbeddingSize = 0, NormalizationMean = 0, NormalizationStd = 1,
        }
        : throw new ArgumentException($"Unknown detector '{architecture}'; known: {string.Join(", ", Names)}.");

    /// <summary>Builds the network of <paramref name="info"/>.</summary>
    public static nn.Module<Tensor, DetectionOutput> Create(ModelInfo info) => info.Architecture.ToLowerInvariant() switch
    {
        RetinaFace => new RetinaFaceMobileNet(),
        OcclusionAware => new OcclusionAwareDetector(),
        _ => throw new ArgumentException($"Unknown detector '{info.Architecture}'; known: {string.Join(", ", Names)}."),
    };
}
