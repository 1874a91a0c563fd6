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
        var result = new Dictionary<string, (IReadOnlyList<DetectedFace>, int, int)>(StringComparer.Ordinal);
        Sweep(detector, relativePaths.Count, i => ImageDecoder.Decode(Path.Combine(root, relativePaths[i])),
            (i, image, faces) => result[relativePaths[i].Replace('\\', '/')] = (faces, image.Width, image.Height), batch, progress);
        return result;
    }

    /// <summary>
    /// Detects in images 0 .. <paramref name="count"/> - 1, <paramref name="batch"/> at a time: each batch decoded in
    /// parallel by <paramref name="decode"/> (null leaves an image out), detected as one call, then handed with its
    /// faces to <paramref name="found"/> in order on the calling thread. <paramref name="cancel"/> is checked between batches.
    /// </summary>
    public static void Sweep(IFaceDetector detector, int count, Func<int, RgbImage?> decode, Action<int, RgbImage, IReadOnlyList<DetectedFace>> found,
        int batch = 16, IProgress<int>? progress = null, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        for (int start = 0; start < count; start += batch)
        {
            cancel.ThrowIfCancellationRequested();
            var images = new RgbImage?[Math.Min(batch, count - start)];
            Parallel.For(0, images.Length, i => images[i] = decode(start + i));
            int[] readable = Enumerable.Range(0, images.Length).Where(i => images[i] is not null).ToArray();
            var faces = detector.DetectMany(readable.Select(i => images[i]!).ToArray());
            for (int r = 0; r < readable.Length; r++) found(start + readable[r], images[readable[r]]!, faces[r]);
            progress?.Report(start + images.Length);
        }
    }
}
