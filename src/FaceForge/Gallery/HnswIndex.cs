using Cloud.Unum.USearch;

namespace FaceForge.Gallery;

/// <summary>
/// An approximate nearest-neighbour graph (HNSW, USearch) over the gallery's face ids, walked by inner product on int8
/// copies of the unit vectors or by Hamming distance on their sign bits (<see cref="HnswVectors"/>), whatever the
/// gallery's precision. Its candidates are re-scored exactly by <see cref="FaceGallery"/>, so only recall, never scores,
/// is approximate; int8 takes a quarter of float32's memory and built 4x faster than float32 with the same recall
/// (100k x 512: recall@1 0.64 vs 0.56-0.60 at beam 64, 12 s vs 50 s on 2 cores; docs/benchmarks.md).
/// </summary>
/// <remarks>Holds native memory: dispose it. Not thread-safe: callers serialise every call (USearch's C# binding grows its capacity unsynchronised).</remarks>
internal sealed class HnswIndex : IDisposable
{
    private readonly USearchIndex _index;
    private readonly bool _binary;

    public HnswIndex(int dimensions, GalleryOpenOptions options)
    {
        _binary = options.HnswVectors == HnswVectors.Binary;
        // USearch packs 8 bits a byte; a partial last byte is not cleared before it is filled.
        if (_binary && dimensions % 8 != 0)
            throw new ArgumentException($"A sign-bit HNSW graph needs a multiple of 8 dimensions (the gallery has {dimensions}); use int8.", nameof(options));
        _index = new USearchIndex(_binary ? MetricKind.Hamming : MetricKind.Ip, _binary ? ScalarKind.Bits1 : ScalarKind.Int8,
            (ulong)dimensions, (ulong)options.HnswConnectivity, (ulong)options.HnswExpansionAdd, (ulong)options.HnswExpansionSearch);
    }

    private HnswIndex(USearchIndex index, bool binary)
    {
        _index = index;
        _binary = binary;
    }

    /// <summary>
    /// A graph saved by <see cref="Save"/>, or null when its dimensions or degree are not <paramref name="options"/>'s.
    /// Only for files known to be whole (<see cref="HnswGraphFile"/> checks their hash): USearch trusts what it reads.
    /// The file's beams are not saved with it: <paramref name="options"/>' are set.
    /// </summary>
    public static HnswIndex? Load(string path, int dimensions, GalleryOpenOptions options)
    {
        var index = new USearchIndex(path, false);
        try
        {
            // Without the handle (a changed binding) the beams would stay USearch's defaults: rebuild instead.
            if (index.Dimensions() != (ulong)dimensions || index.Connectivity() != (ulong)options.HnswConnectivity
                || Handle?.GetValue(index) is not IntPtr handle || handle == IntPtr.Zero)
            {
                index.Dispose();
                return null;
            }
            usearch_change_expansion_add(handle, (UIntPtr)options.HnswExpansionAdd, out IntPtr addError);
            usearch_change_expansion_search(handle, (UIntPtr)options.HnswExpansionSearch, out IntPtr searchError);
            if (addError != IntPtr.Zero || searchError != IntPtr.Zero)
            {
                index.Dispose();
                return null;
            }
            return new HnswIndex(index, options.HnswVectors == HnswVectors.Binary);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    public long Count => (long)_index.Size();

    public bool Contains(long faceId) => _index.Contains((ulong)faceId);

    /// <summary>Writes the graph to <paramref name="path"/> (USearch's own format).</summary>
    public void Save(string path) => _index.Save(path);

    public void Add(long faceId, float[] vector)
    {
        Reserve(1);
        AddVector(faceId, vector);
    }

    /// <summary>
    /// Adds <paramref name="count"/> faces after one reservation, on every core when the reservation holds them all:
    /// USearch's native index takes concurrent adds (it reserves one thread context per hardware thread with the
    /// capacity), but the binding's own growth inside Add is not thread-safe, so without room for every face (the
    /// reflective reservation unavailable) the adds run one after another.
    /// </summary>
    public void AddMany(int count, Func<int, (long FaceId, float[] Vector)> face)
    {
        void AddOne(int i)
        {
            var (id, vector) = face(i);
            AddVector(id, vector);
        }
        Reserve(count);
        if (_index.Capacity() < _index.Size() + (ulong)count)
        {
            for (int i = 0; i < count; i++) AddOne(i);
            return;
        }
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, AddOne);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // The first failure as the sequential loop would have thrown it, not wrapped.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    public void Remove(long faceId) => _index.Remove((ulong)faceId);

    /// <summary>Up to <paramref name="count"/> face ids nearest to <paramref name="probe"/>.</summary>
    public long[] Search(float[] probe, int count)
    {
        ulong[] keys;
        int found = _binary ? _index.Search(Signs(probe), count, out keys, out float[] _) : _index.Search(probe, count, out keys, out _);
        return keys.Take(found).Select(k => (long)k).ToArray();
    }

    public void Dispose() => _index.Dispose();

    private void AddVector(long faceId, float[] vector)
    {
        if (_binary) _index.Add((ulong)faceId, Signs(vector));
        else _index.Add((ulong)faceId, vector);
    }

    /// <summary>
    /// +1 or -1 per dimension, which USearch quantises to one bit each by sign. (The binding's byte[] overload of Add
    /// takes one byte per dimension, not packed bits, and it has no byte[] search.)
    /// </summary>
    private static sbyte[] Signs(float[] vector)
    {
        var signs = new sbyte[vector.Length];
        for (int j = 0; j < vector.Length; j++) signs[j] = vector[j] > 0 ? (sbyte)1 : (sbyte)-1;
        return signs;
    }

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
        // The binding reserves its size plus the argument (a loaded graph's capacity may exceed its size).
        Grow.Invoke(_index, [wanted - size]);
    }

    private static readonly System.Reflection.FieldInfo? Handle =
        typeof(USearchIndex).GetField("_index", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);

    [System.Runtime.InteropServices.DllImport("libusearch_c")]
    private static extern void usearch_change_expansion_add(IntPtr index, UIntPtr expansion, out IntPtr error);

    [System.Runtime.InteropServices.DllImport("libusearch_c")]
    private static extern void usearch_change_expansion_search(IntPtr index, UIntPtr expansion, out IntPtr error);

    private static readonly System.Reflection.MethodInfo? Grow =
        typeof(USearchIndex).GetMethod("IncreaseCapacity", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, [typeof(ulong)]);
}
