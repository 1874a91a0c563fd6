using FaceForge.Imaging;

namespace FaceForge.Data;

/// <summary>Decodes every image of a dataset to find unreadable ones.</summary>
public static class DatasetValidation
{
    /// <summary>Summary of a dataset check.</summary>
    /// <param name="Identities">Identity count.</param>
    /// <param name="Images">Image count (bad ones included).</param>
    /// <param name="Format">Storage format.</param>
    /// <param name="Bad">Where each unreadable image is, with the reason.</param>
    public sealed record Report(int Identities, int Images, string Format, IReadOnlyList<string> Bad);

    /// <summary>Decodes every image; a bad one throws, or with <paramref name="skipBad"/> is listed in the report.</summary>
    public static Report Check(IFaceDataset dataset, bool skipBad, IProgress<int>? progress = null, int threads = 0)
    {
        var bad = new System.Collections.Concurrent.ConcurrentBag<(int Index, string Why)>();
        int done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount };
        Parallel.For(0, dataset.Count, options, i =>
        {
            try
            {
                ImageDecoder.Decode(dataset.ReadEncoded(i), dataset.Describe(i));
            }
            catch (Exception e) when (skipBad && e is InvalidDataException or IOException)
            {
                bad.Add((i, e.Message));
            }
            progress?.Report(Interlocked.Increment(ref done));
        });
        return new Report(dataset.IdentityCount, dataset.Count, dataset.Format, bad.OrderBy(b => b.Index).Select(b => b.Why).ToList());
    }

    internal static bool TryDecode(byte[] bytes, string name, bool skipBad)
    {
        try
        {
            ImageDecoder.Decode(bytes, name);
            return true;
        }
        catch (InvalidDataException) when (skipBad)
        {
            return false;
        }
    }
}
