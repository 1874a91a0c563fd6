using FaceForge.Alignment;
using FaceForge.Imaging;

namespace FaceForge.Synthesis;

/// <summary>One annotated face of a detection scene.</summary>
/// <param name="X">Box left, pixels.</param>
/// <param name="Y">Box top, pixels.</param>
/// <param name="Width">Box width.</param>
/// <param name="Height">Box height.</param>
/// <param name="Landmarks">Five landmarks.</param>
/// <param name="Occluder">What covers the face.</param>
/// <param name="OccludedFraction">Fraction of the face's pixels that are occluded, in [0, 1].</param>
public readonly record struct SceneFace(float X, float Y, float Width, float Height, FaceLandmarks Landmarks, Occluder Occluder, float OccludedFraction);

/// <summary>A synthetic detection scene: the image, its faces and an occlusion label map.</summary>
/// <param name="Image">The scene.</param>
/// <param name="Faces">The faces in drawing order.</param>
/// <param name="OcclusionMap">Per pixel: 0, or k + 1 where face k is occluded (same size as the image).</param>
public sealed record DetectionScene(RgbImage Image, IReadOnlyList<SceneFace> Faces, byte[] OcclusionMap);
