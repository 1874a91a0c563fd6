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
    /// <summary>The crop for <paramref name="relativePath"/>.</summary>
    /// <exception cref="InvalidDataException">The image is unreadable or has no landmarks in the file.</exception>
    public RgbImage Load(string relativePath)
    {
        var image = ImageDecoder.Decode(Path.Combine(Root, relativePath));
        if (Landmarks is null) return Prepare(image, null, Template);
        if (!Landmarks.TryGetValue(relativePath.Replace('\\', '/'), out var points))
            return ResizeWhenMissing ? Prepare(image, null, Template) : throw new InvalidDataException($"The landmarks file has no entry for '{relativePath}'.");
        return Prepare(image, points, Template);
    }

    /// <summary>
    /// The crop for <paramref name="template"/>: aligned by <paramref name="landmarks"/> when given, else the image
    /// itself (taken as aligned), resized only if its size differs.
    /// </summary>
    public static RgbImage Prepare(RgbImage image, FaceLandmarks? landmarks, AlignmentTemplate template)
    {
        if (landmarks is { } points) return FaceAligner.Align(image, points, template);
        return image.Width == template.Width && image.Height == template.Height ? image : ImageResizer.Resize(image, template.Width, template.Height);
    }
}
