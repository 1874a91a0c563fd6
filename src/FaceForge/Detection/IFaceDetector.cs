using FaceForge.Imaging;

namespace FaceForge.Detection;

/// <summary>Finds faces (boxes, scores and, where the model has them, five landmarks) in whole images.</summary>
/// <remarks>Implementations own native resources; whether concurrent calls are allowed is stated by each.</remarks>
public interface IFaceDetector : IDisposable
{
    /// <summary>The detector's name, e.g. "retinaface-mnet025".</summary>
    string Name { get; }

    /// <summary>Whether detections carry landmarks.</summary>
    bool HasLandmarks { get; }

    /// <summary>The faces in <paramref name="image"/>, best score first, after the confidence threshold and NMS.</summary>
    IReadOnlyList<DetectedFace> Detect(RgbImage image);
}
