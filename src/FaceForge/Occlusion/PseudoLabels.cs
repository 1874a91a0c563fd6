using FaceForge.Detection;

namespace FaceForge.Occlusion;

/// <summary>A source image and the faces a detector found on it (pseudo-labels, not human annotations).</summary>
/// <param name="Image">Path relative to the image root, with '/'.</param>
/// <param name="Width">Image width.</param>
/// <param name="Height">Image height.</param>
/// <param name="Faces">Faces at or above the detector's threshold, best first, each with landmarks.</param>
public sealed record PseudoLabelledImage(string Image, int Width, int Height, IReadOnlyList<DetectedFace> Faces);

/// <summary>
/// Boxes and landmarks for real images from a detector run on the clean images (the imported RetinaFace in
/// <c>data occlude</c>): what the occluded sets are labelled with, recorded as pseudo-labels.
/// </summary>
/// <param name="Detector">The detector's name.</param>
/// <param name="Images">Images with at least one face.</param>
/// <param name="Skipped">Images where the detector found no face: counted and left out, never labelled by guess.</param>
public sealed record PseudoLabels(string Detector, IReadOnlyList<PseudoLabelledImage> Images, IReadOnlyList<string> Skipped)
{
    /// <summary>Runs <paramref name="detector"/> (with landmarks) on <paramref name="relativePaths"/> under <paramref name="root"/>.</summary>
    /// <exception cref="ArgumentException">The detector gives no landmarks.</exception>
    /// <exception cref="InvalidDataException">An image is unreadable (the message names it).</exception>
    public static PseudoLabels Detect(IFaceDetector detector, string root, IReadOnlyList<string> relativePaths, IProgress<int>? progress = null)
    {
        if (!detector.HasLandmarks) throw new ArgumentException($"Detector '{detector.Name}' gives no landmarks; occluders are placed by them.", nameof(detector));
        var found = CentreFaceSweep.RunAll(detector, root, relativePaths, 16, progress);
        var images = new List<PseudoLabelledImage>();
        var skipped = new List<string>();
        foreach (string path in relativePaths.Select(p => p.Replace('\\', '/')))
        {
            var (faces, width, height) = found[path];
            var kept = faces.Where(f => f.Landmarks is not null).ToList();
            if (kept.Count == 0) skipped.Add(path);
            else images.Add(new PseudoLabelledImage(path, width, height, kept));
        }
        return new PseudoLabels(detector.Name, images, skipped);
    }
}
