namespace FaceForge.Detection;

/// <summary>
/// Where an image's occlusion mask lives in a masks folder: the image's file name, or the same name with a .png
/// extension (masks must be lossless, and a JPEG image's mask is a PNG).
/// </summary>
public static class OcclusionMaskFile
{
    /// <summary>The mask of <paramref name="imageName"/> (a path relative to the image root) in <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">Neither name exists (the message names both the image and the folder).</exception>
    public static string Find(string folder, string imageName)
    {
        string same = Path.Combine(folder, Path.GetFileName(imageName));
        if (File.Exists(same)) return same;
        string png = Path.ChangeExtension(same, ".png");
        if (File.Exists(png)) return png;
        throw new FileNotFoundException($"No occlusion mask for '{imageName}' in '{folder}' (looked for '{Path.GetFileName(same)}' and '{Path.GetFileName(png)}').", same);
    }
}
