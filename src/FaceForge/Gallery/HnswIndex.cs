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

    public void Add(long faceId, float[] vector)
    {
        Reserve(1);
        _index.Add((ulong)faceId, vector);
    }

    /// <summary>Adds <paramref name="count"/> faces after one reservation.</summary>
    public void AddMany(int count, Func<int, (long FaceId, float[] Vector)> face)
    {
        Reserve(count);
        for (int i = 0; i < count; i++)
        {
            var (id, vector) = face(i);
            _index.Add((ulong)id, vector);
        }
    }

    public void Remove(long faceId) => _index.Remove((ulong)faceId);

    /// <summary>Up to <paramref name="count"/> face ids nearest to <paramref name="probe"/>.</summary>
    public long[] Search(float[] probe, int count)
    {
        int found = _index.Search(probe, count, out ulong[] keys, out float[] _);
        return keys.Take(found).Select(k => (long)k).ToArray();
    }

    public void Dispose() => _index.Dispose();

    /// <summary>
    /// Grows the capacity geometrically. USearch's C# binding grows it by exactly what one Add needs, and each growth
    /// reallocates the index: a million adds then cost quadratic time (a 1M x 512 build did not finish in an hour).
    /// The binding's growth method is private, so it is reached by reflection; if the binding changes, Add's own
    /// growth still works, only slowly.
    /// </summary>
    private void Reserve(int more)
    {
        ulong size = _index.Size(), capacity = _index.Capacity();
        if (size + (ulong)more <= capacity || Grow is null) return;
        ulong wanted = Math.Max(size + (ulong)more, Math.Max(1024, 2 * capacity));
        Grow.Invoke(_index, [wanted - capacity]);
    }

    private static readonly System.Reflection.MethodInfo? Grow =
        typeof(USearchIndex).GetMethod("IncreaseCapacity", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, [typeof(ulong)]);
}
