using FaceForge.Data.RecordIo;

namespace FaceForge.Data;

/// <summary>Packs a dataset into InsightFace's RecordIO layout (header record 0, images, identity records).</summary>
public static class DatasetPacker
{
    /// <summary>
    /// Writes PREFIX.rec and PREFIX.idx holding every image of <paramref name="source"/>, grouped by identity.
    /// Images are copied as encoded; with <paramref name="validate"/> each is decoded first and a bad one fails the
    /// pack (or is skipped and counted when <paramref name="skipBad"/>).
    /// </summary>
    /// <returns>The number of images written and skipped.</returns>
    public static (int Written, int Skipped) Pack(IFaceDataset source, string prefix, bool validate = true, bool skipBad = false, IProgress<int>? progress = null)
    {
        // The header and identity records hold keys as float32 labels, exact up to 2^24 only.
        if (source.Count + source.IdentityCount + 1 > RecordIoDataset.MaxExactLabel)
            throw new ArgumentException($"{source.Count} images of {source.IdentityCount} identities need keys beyond {RecordIoDataset.MaxExactLabel}, which the pack's float32 labels cannot hold exactly; split the set into several packs.", nameof(source));
        var byIdentity = Enumerable.Range(0, source.Count).GroupBy(source.GetLabel).OrderBy(g => g.Key).ToList();
        using var writer = new RecordIoWriter(prefix);
        long key = 1;
        int skipped = 0, done = 0;
        var ranges = new List<(long Start, long End)>();
        foreach (var identity in byIdentity)
        {
            long start = key;
            foreach (int index in identity)
            {
                byte[]? bytes;
                try
                {
                    bytes = source.ReadEncoded(index);
                }
                catch (InvalidDataException) when (skipBad)
                {
                    bytes = null; // an empty file or a pipe, refused before it is read: skipped like an undecodable image
                }
                progress?.Report(++done);
                if (bytes is null || validate && !DatasetValidation.TryDecode(bytes, source.Describe(index), skipBad))
                {
                    skipped++;
                    continue;
                }
                writer.Write(key, new ImageRecord(new RecordIoHeader(0, ranges.Count, (ulong)key, 0), [], bytes));
                key++;
            }
            if (key > start) ranges.Add((start, key));
        }
        long first = key;
        writer.Write(0, new ImageRecord(default, [first, first + ranges.Count], []));
        foreach (var (start, end) in ranges)
            writer.Write(key++, new ImageRecord(default, [start, end], []));
        writer.Commit();
        return ((int)(first - 1), skipped);
    }
}
