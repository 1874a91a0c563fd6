using FaceForge.Data.RecordIo;

namespace FaceForge.Data;

/// <summary>Opens a dataset by what the path is: a folder of identity folders, or a RecordIO .rec/.idx pair.</summary>
public static class FaceDataset
{
    /// <summary>Opens <paramref name="path"/>.</summary>
    public static IFaceDataset Open(string path, bool skipEmpty = false)
    {
        if (Directory.Exists(path)) return ImageFolderDataset.Open(path, skipEmpty);
        string prefix = RecordIoReader.StripExtension(path);
        if (File.Exists(prefix + ".rec") || File.Exists(prefix + ".idx")) return RecordIoDataset.Open(path);
        throw new FileNotFoundException($"'{path}' is neither a folder nor a RecordIO .rec/.idx pair.", path);
    }
}
