using FaceForge.Alignment;
using FaceForge.Imaging;

namespace FaceForge.Embedding;

/// <summary>
/// Produces model-ready crops from image files: aligned by a landmarks file when one is given, else assumed aligned
/// already and only resized to the model's input.
/// </summary>
/// <param name="Root">Folder the relative image paths are under.</param>
/// <param name="Landmarks">Landmarks by relative path, or null for pre-aligned images.</param>
/// <param name="Template">The model's template (its size is the crop size).</param>
/// <param name="ResizeWhenMissing">Images without landmarks are resized whole instead of failing (a detector found no face in them).</param>
public sealed record AlignedImageSource(string Root, IReadOnlyDictionary<string, FaceLandmarks>? Landmarks, AlignmentTemplate Template, bool ResizeWhenMissing = false)
{
    /// <summary>Smallest side of an image taken as an aligned crop.</summary>
    public const int MinCropSide = 16;

    /// <summary>The crop for <paramref name="relativePath"/>.</summary>
    /// <exception cref="InvalidDataException">The image is unreadable or has no landmarks in the file.</exception>
    public RgbImage Load(string relativePath)
    {
        string path = Path.Combine(Root, relativePath);
        var image = ImageDecoder.Decode(path);
        FaceLandmarks? points = null;
        if (Landmarks is not null)
        {
            if (Landmarks.TryGetValue(relativePath.Replace('\\', '/'), out var found)) points = found;
            else if (!ResizeWhenMissing) throw new InvalidDataException($"The landmarks file has no entry for '{relativePath}'.");
        }
        try
        {
            return Prepare(image, points, Template);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The crop for <paramref name="template"/>: aligned by <paramref name="landmarks"/> when given, else the image
    /// itself (taken as aligned), moved into the template's frame if its size differs (<see cref="FaceAligner.Reframe"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The landmarks do not fit the image, or an image without landmarks is too small to be a face crop.</exception>
    public static RgbImage Prepare(RgbImage image, FaceLandmarks? landmarks, AlignmentTemplate template)
    {
        if (landmarks is { } points) return FaceAligner.Align(image, points, template);
        if (image.Width < MinCropSide || image.Height < MinCropSide)
            throw new ArgumentException($"the image is {image.Width}x{image.Height}: too small to be a face crop (at least {MinCropSide}x{MinCropSide}).");
        return FaceAligner.Reframe(image, template);
    }
}
