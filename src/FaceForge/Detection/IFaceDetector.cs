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

    /// <summary>Detects in several images (batched where the implementation can); one list per image, in order.</summary>
    IReadOnlyList<IReadOnlyList<DetectedFace>> DetectMany(IReadOnlyList<RgbImage> images) => images.Select(Detect).ToArray();

    /// <summary>The face whose box centre is nearest the image centre (the subject of a portrait crop such as LFW's), or null.</summary>
    static DetectedFace? NearestCentre(IReadOnlyList<DetectedFace> faces, int width, int height) =>
        faces.MinBy(f => System.Numerics.Vector2.DistanceSquared(f.Box.Centre, new System.Numerics.Vector2(width / 2f, height / 2f)));
}
