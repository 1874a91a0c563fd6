using FaceForge.Imaging;

namespace FaceForge.Detection;

/// <summary>
/// Runs a detector over a list of images and keeps, per image, the face nearest the image centre: how portrait
/// datasets such as LFW are landmarked (and how ../shared/data/lfw/landmarks.txt was made).
/// </summary>
public static class CentreFaceSweep
{
    /// <summary>
    /// The centre face of each of <paramref name="relativePaths"/> under <paramref name="root"/> (null where none is
    /// found). Images are decoded in parallel and detected <paramref name="batch"/> at a time.
    /// </summary>
    /// <exception cref="InvalidDataException">An image is unreadable (the message names it).</exception>
    public static Dictionary<string, DetectedFace?> Run(IFaceDetector detector, string root, IReadOnlyList<string> relativePaths, int batch = 16, IProgress<int>? progress = null) =>
        RunAll(detector, root, relativePaths, batch, progress).ToDictionary(kv => kv.Key, kv => IFaceDetector.NearestCentre(kv.Value.Faces, kv.Value.Width, kv.Value.Height), StringComparer.Ordinal);

    /// <summary>Every face of each image with the image's size (keys use '/'), for callers that choose among them.</summary>
    public static Dictionary<string, (IReadOnlyList<DetectedFace> Faces, int Width, int Height)> RunAll(IFaceDetector detector, string root, IReadOnlyList<string> relativePaths,
        int batch = 16, IProgress<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var result = new Dictionary<string, (IReadOnlyList<DetectedFace>, int, int)>(StringComparer.Ordinal);
        for (int start = 0; start < relativePaths.Count; start += batch)
        {
            var chunk = relativePaths.Skip(start).Take(batch).ToArray();
            var images = new RgbImage[chunk.Length];
            Parallel.For(0, chunk.Length, i => images[i] = ImageDecoder.Decode(Path.Combine(root, chunk[i])));
            var found = detector.DetectMany(images);
            for (int i = 0; i < chunk.Length; i++)
                result[chunk[i].Replace('\\', '/')] = (found[i], images[i].Width, images[i].Height);
            progress?.Report(start + chunk.Length);
        }
        return result;
    }
}
