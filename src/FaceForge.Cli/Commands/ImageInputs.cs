using FaceForge.Alignment;
using FaceForge.Embedding;
using FaceForge.Imaging;

namespace FaceForge.Cli.Commands;

/// <summary>Turns image paths given on the command line into model-ready crops.</summary>
internal static class ImageInputs
{
    /// <summary>
    /// Loads and aligns <paramref name="path"/>: by its entry in <paramref name="landmarks"/> (looked up by the path as
    /// given, then by its last two components, then by file name), else taken as already aligned and resized.
    /// </summary>
    public static RgbImage Load(string path, IReadOnlyDictionary<string, FaceLandmarks>? landmarks, IFaceEmbedder embedder)
    {
        if (!File.Exists(path)) throw new UserErrorException($"Image '{path}' does not exist.");
        var image = ImageDecoder.Decode(path);
        var template = embedder.Info.AlignmentTemplate;
        if (landmarks is null) return Prepare(path, image, null, template);
        string normal = path.Replace('\\', '/');
        string[] parts = normal.Split('/');
        string[] candidates = [normal, parts.Length >= 2 ? $"{parts[^2]}/{parts[^1]}" : normal, parts[^1]];
        foreach (string key in candidates)
            if (landmarks.TryGetValue(key, out var points)) return Prepare(path, image, points, template);
        throw new UserErrorException($"The landmarks file has no entry for '{path}' (tried {string.Join(", ", candidates.Distinct())}).");
    }

    private static RgbImage Prepare(string path, RgbImage image, FaceLandmarks? points, AlignmentTemplate template)
    {
        try
        {
            return AlignedImageSource.Prepare(image, points, template);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"{path}: {e.Message}");
        }
    }

    public static IReadOnlyDictionary<string, FaceLandmarks>? Landmarks(string? path) =>
        path is null ? null : LandmarksFile.Read(File.Exists(path) ? path : throw new UserErrorException($"--landmarks: '{path}' does not exist."));
}
