using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FaceForge.Gallery;

/// <summary>
/// Every gallery vector in memory, in chunks of contiguous rows (float32 or float16), scored against a probe with
/// SIMD dot products (TensorPrimitives): the vectors are unit length, so a dot product is a cosine. A scan reads
/// each stored byte once, so its speed is bounded by memory bandwidth (see <see cref="StreamingRead"/>).
/// </summary>
/// <remarks>Not thread-safe for writes; concurrent <see cref="Search"/> calls are safe while nothing writes.</remarks>
internal sealed class ExactIndex
{
    /// <summary>Rows per chunk: chunks of a few MB grow without copying the whole gallery.</summary>
    private const int RowsPerChunk = 8192;

    /// <summary>float16 rows are widened this many at a time into a scratch buffer that stays in L1/L2.</summary>
    private const int HalfBlock = 32;

    private readonly List<float[]> _single = [];
    private readonly List<Half[]> _half = [];
    private readonly List<long> _faceIds = [];
    private readonly List<int> _subjects = [];
    private readonly Dictionary<long, int> _rowOf = [];

    public ExactIndex(int dimensions, GalleryPrecision precision)
    {
        Dimensions = dimensions;
        Precision = precision;
    }

    public int Dimensions { get; }

    public GalleryPrecision Precision { get; }

    public int Count => _faceIds.Count;

    public long FaceId(int row) => _faceIds[row];

    public int Subject(int row) => _subjects[row];

    public bool TryRow(long faceId, out int row) => _rowOf.TryGetValue(faceId, out row);

    /// <summary>Appends a unit-length vector.</summary>
    public void Add(long faceId, int subject, ReadOnlySpan<float> vector)
    {
        int row = Count;
        int chunk = row / RowsPerChunk, offset = row % RowsPerChunk * Dimensions;
        if (Precision == GalleryPrecision.Float32)
        {
            if (chunk == _single.Count) _single.Add(new float[RowsPerChunk * Dimensions]);
            vector.CopyTo(_single[chunk].AsSpan(offset, Dimensions));
        }
        else
        {
            if (chunk == _half.Count) _half.Add(new Half[RowsPerChunk * Dimensions]);
            TensorPrimitives.ConvertToHalf(vector, _half[chunk].AsSpan(offset, Dimensions));
        }
        _faceIds.Add(faceId);
        _subjects.Add(subject);
        _rowOf[faceId] = row;
    }

    /// <summary>Removes a face: the last row moves into its place (row order carries no meaning).</summary>
    public bool Remove(long faceId)
    {
        if (!_rowOf.Remove(faceId, out int row)) return false;
        int last = Count - 1;
        if (row != last)
        {
            if (Precision == GalleryPrecision.Float32) RowSingle(last).CopyTo(RowSingleMutable(row));
            else RowHalf(last).CopyTo(RowHalfMutable(row));
            _faceIds[row] = _faceIds[last];
            _subjects[row] = _subjects[last];
            _rowOf[_faceIds[row]] = row;
        }
        _faceIds.RemoveAt(last);
        _subjects.RemoveAt(last);
        return true;
    }

    /// <summary>The stored vector of a row, widened to float32.</summary>
    public float[] Vector(int row)
    {
        var vector = new float[Dimensions];
        if (Precision == GalleryPrecision.Float32) RowSingle(row).CopyTo(vector);
        else TensorPrimitives.ConvertToSingle(RowHalf(row), vector);
        return vector;
    }

    /// <summary>The cosine of <paramref name="probe"/> with one row.</summary>
    public float Score(int row, ReadOnlySpan<float> probe)
    {
        if (Precision == GalleryPrecision.Float32) return TensorPrimitives.Dot(RowSingle(row), probe);
        Span<float> wide = stackalloc float[Dimensions];
        TensorPrimitives.ConvertToSingle(RowHalf(row), wide);
        return TensorPrimitives.Dot(wide, probe);
    }

    /// <summary>The <paramref name="count"/> best-scoring rows, best first, scanning every row.</summary>
    public List<(int Row, float Score)> Search(ReadOnlySpan<float> probe, int count)
    {
        var best = new BestRows(Math.Min(count, Count));
        if (best.Capacity == 0) return [];
        if (Precision == GalleryPrecision.Float32)
        {
            for (int chunk = 0; chunk < _single.Count; chunk++)
            {
                var rows = _single[chunk].AsSpan();
                int first = chunk * RowsPerChunk, n = Math.Min(RowsPerChunk, Count - first);
                for (int r = 0; r < n; r++) best.Offer(first + r, TensorPrimitives.Dot(rows.Slice(r * Dimensions, Dimensions), probe));
            }
        }
        else
        {
            var wide = new float[HalfBlock * Dimensions];
            for (int chunk = 0; chunk < _half.Count; chunk++)
            {
                var rows = _half[chunk].AsSpan();
                int first = chunk * RowsPerChunk, n = Math.Min(RowsPerChunk, Count - first);
                for (int block = 0; block < n; block += HalfBlock)
                {
                    int m = Math.Min(HalfBlock, n - block);
                    TensorPrimitives.ConvertToSingle(rows.Slice(block * Dimensions, m * Dimensions), wide.AsSpan(0, m * Dimensions));
                    for (int r = 0; r < m; r++) best.Offer(first + block + r, TensorPrimitives.Dot(wide.AsSpan(r * Dimensions, Dimensions), probe));
                }
            }
        }
        return best.Sorted();
    }

    /// <summary>
    /// Reads every stored byte once (an integer sum, so no float cost or denormal stalls): the memory-bandwidth
    /// bound of <see cref="Search"/> on the same data, for benchmarks. Returns the sum so the read is not optimised away.
    /// </summary>
    public long StreamingRead()
    {
        long sum = 0;
        int chunks = Precision == GalleryPrecision.Float32 ? _single.Count : _half.Count;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            int rows = Math.Min(RowsPerChunk, Count - chunk * RowsPerChunk);
            var bytes = Precision == GalleryPrecision.Float32
                ? MemoryMarshal.AsBytes(_single[chunk].AsSpan(0, rows * Dimensions))
                : MemoryMarshal.AsBytes(_half[chunk].AsSpan(0, rows * Dimensions));
            sum += TensorPrimitives.Sum(MemoryMarshal.Cast<byte, int>(bytes));
        }
        return sum;
    }

    private ReadOnlySpan<float> RowSingle(int row) => _single[row / RowsPerChunk].AsSpan(row % RowsPerChunk * Dimensions, Dimensions);

    private Span<float> RowSingleMutable(int row) => _single[row / RowsPerChunk].AsSpan(row % RowsPerChunk * Dimensions, Dimensions);

    private ReadOnlySpan<Half> RowHalf(int row) => _half[row / RowsPerChunk].AsSpan(row % RowsPerChunk * Dimensions, Dimensions);

    private Span<Half> RowHalfMutable(int row) => _half[row / RowsPerChunk].AsSpan(row % RowsPerChunk * Dimensions, Dimensions);
}

/// <summary>The k best (row, score) pairs seen, as a min-heap: most rows are rejected by one comparison.</summary>
internal sealed class BestRows(int capacity)
{
    private readonly PriorityQueue<int, float> _heap = new(capacity + 1);
    private float _floor = float.NegativeInfinity;

    public int Capacity { get; } = capacity;

    public void Offer(int row, float score)
    {
        if (_heap.Count < Capacity)
        {
            _heap.Enqueue(row, score);
            if (_heap.Count == Capacity) _heap.TryPeek(out _, out _floor);
        }
        else if (score > _floor)
        {
            _heap.DequeueEnqueue(row, score);
            _heap.TryPeek(out _, out _floor);
        }
    }

    public List<(int Row, float Score)> Sorted()
    {
        var all = new List<(int Row, float Score)>(_heap.Count);
        while (_heap.TryDequeue(out int row, out float score)) all.Add((row, score));
        all.Reverse();
        return all;
    }
}
