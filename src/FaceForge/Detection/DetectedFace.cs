using FaceForge.Alignment;

namespace FaceForge.Detection;

/// <summary>One face found in an image.</summary>
/// <param name="Box">Bounding box in the image's pixels.</param>
/// <param name="Score">Detector confidence in [0, 1].</param>
/// <param name="Landmarks">The five landmarks (eyes, nose, mouth corners), or null for detectors without them.</param>
public sealed record DetectedFace(FaceBox Box, float Score, FaceLandmarks? Landmarks);
