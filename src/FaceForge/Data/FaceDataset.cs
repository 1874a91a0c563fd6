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

    /// <summary>The image indices of each identity of <paramref name="dataset"/>, by ascending label, each in dataset order.</summary>
    public static int[][] ImagesByIdentity(IFaceDataset dataset)
    {
        var byLabel = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < dataset.Count; i++)
        {
            int label = dataset.GetLabel(i);
            if (!byLabel.TryGetValue(label, out var list)) byLabel[label] = list = [];
            list.Add(i);
        }
        return byLabel.Values.Select(v => v.ToArray()).ToArray();
    }
}
