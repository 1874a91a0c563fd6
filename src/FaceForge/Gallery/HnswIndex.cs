using Cloud.Unum.USearch;

namespace FaceForge.Gallery;

/// <summary>
/// An approximate nearest-neighbour graph (HNSW, USearch) over the gallery's face ids, inner-product metric on unit
/// vectors. Its candidates are re-scored exactly by <see cref="FaceGallery"/>, so only recall, never scores, is approximate.
/// </summary>
/// <remarks>Holds native memory: dispose it. Not thread-safe: callers serialise every call (USearch's C# binding grows its capacity unsynchronised).</remarks>
internal sealed class HnswIndex : IDisposable
{
    private readonly USearchIndex _index;

    public HnswIndex(int dimensions, GalleryPrecision precision, GalleryOpenOptions options)
    {
        _index = new USearchIndex(MetricKind.Ip, precision == GalleryPrecision.Float16 ? ScalarKind.Float16 : ScalarKind.Float32, (ulong)dimensions,
            (ulong)options.HnswConnectivity, (ulong)options.HnswExpansionAdd, (ulong)options.HnswExpansionSearch);
    }

    public long Count => (long)_index.Size();

    public void Add(long faceId, float[] vector) => _index.Add((ulong)faceId, vector);

    public void Remove(long faceId) => _index.Remove((ulong)faceId);

    /// <summary>Up to <paramref name="count"/> face ids nearest to <paramref name="probe"/>.</summary>
    public long[] Search(float[] probe, int count)
    {
        int found = _index.Search(probe, count, out ulong[] keys, out float[] _);
        return keys.Take(found).Select(k => (long)k).ToArray();
    }

    public void Dispose() => _index.Dispose();
}
