using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>2^112: a half's bits moved into a float's places give the half's value times 2^-112 (see <see cref="DotHalf"/>).</summary>
    private const float HalfScale = 5.192296858534828e33f;

    /// <summary>How many float16 rows ahead of the scan <see cref="Prefetch"/> asks for (2 to 16 measured alike).</summary>
    private const int PrefetchRows = 4;

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
            VectorCodec.ToHalf(vector, _half[chunk].AsSpan(offset, Dimensions));
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
        if (Precision == GalleryPrecision.Float32) return DotSingle(RowSingle(row), probe);
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
                for (int r = 0; r < n; r++) best.Offer(first + r, DotSingle(rows.Slice(r * Dimensions, Dimensions), probe));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var scaled = new float[Dimensions];
            TensorPrimitives.Multiply(probe, HalfScale, scaled);
            for (int chunk = 0; chunk < _half.Count; chunk++)
            {
                var rows = _half[chunk].AsSpan();
                int first = chunk * RowsPerChunk, n = Math.Min(RowsPerChunk, Count - first);
                for (int r = 0; r < n; r++)
                {
                    if (r + PrefetchRows < n) Prefetch(MemoryMarshal.AsBytes(rows.Slice((r + PrefetchRows) * Dimensions, Dimensions)));
                    best.Offer(first + r, DotHalf(rows.Slice(r * Dimensions, Dimensions), scaled));
                }
            }
        }
        else
        {
            for (int row = 0; row < Count; row++) best.Offer(row, Score(row, probe));
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

    /// <summary>
    /// Asks for a row a few rows ahead: the float16 dot product's integer work did not overlap with the hardware
    /// prefetcher's loads (scan time was the sum of compute and a streaming read: 2.0x); asked explicitly, 1.3x.
    /// </summary>
    private static unsafe void Prefetch(ReadOnlySpan<byte> row)
    {
        if (!Sse.IsSupported) return;
        fixed (byte* start = row)
        {
            for (int offset = 0; offset < row.Length; offset += 64) Sse.Prefetch0(start + offset);
        }
    }

    /// <summary>
    /// The dot product of a float16 row with a probe already multiplied by 2^112. Widening halves to floats through
    /// the general conversion made the float16 scan compute-bound (3.2x the streaming read); here each half is
    /// sign-extended, shifted left 13 bits and masked, which puts its exponent and mantissa in a float's places: that
    /// float is the half's value times 2^-112, for normal and subnormal halves alike (stored vectors are finite,
    /// so infinities and NaNs, which this would misread, never occur). Three integer operations per 8 values keep the
    /// scan near memory bandwidth. Subnormal halves would be read right but become subnormal floats, slow in a
    /// multiply-add: <see cref="VectorCodec.ToHalf"/> stores none.
    /// </summary>
    private static float DotHalf(ReadOnlySpan<Half> row, ReadOnlySpan<float> scaledProbe)
    {
        ref short halves = ref Unsafe.As<Half, short>(ref MemoryMarshal.GetReference(row));
        ref float probe = ref MemoryMarshal.GetReference(scaledProbe);
        var mask = Vector256.Create(unchecked((int)0x8FFFE000)); // sign and the 15 bits of exponent and mantissa
        Vector256<float> sum0 = default, sum1 = default;
        int i = 0;
        for (; i <= row.Length - 16; i += 16)
        {
            var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref halves, (nuint)i));
            sum0 = Vector256.MultiplyAddEstimate(Vector256.As<int, float>(Vector256.ShiftLeft(lower, 13) & mask), Vector256.LoadUnsafe(ref probe, (nuint)i), sum0);
            sum1 = Vector256.MultiplyAddEstimate(Vector256.As<int, float>(Vector256.ShiftLeft(upper, 13) & mask), Vector256.LoadUnsafe(ref probe, (nuint)i + 8), sum1);
        }
        float sum = Vector256.Sum(sum0 + sum1);
        for (; i < row.Length; i++) sum += (float)row[i] * (scaledProbe[i] / HalfScale);
        return sum;
    }

    /// <summary>
    /// The dot product of a float32 row with the probe, four independent sums of 8 lanes. TensorPrimitives.Dot made the
    /// float32 scan compute-bound on a machine without AVX-512 (1M x 512: 210 ms against a 126-130 ms streaming read,
    /// 1.64x; 140 ms, 1.08x, with this; a software prefetch as the float16 scan has helped Dot little and slowed this).
    /// Also the score of <see cref="Score"/>, so an HNSW candidate re-ranked exactly scores as the scan scores it.
    /// </summary>
    private static float DotSingle(ReadOnlySpan<float> row, ReadOnlySpan<float> probe)
    {
        if (!Vector256.IsHardwareAccelerated) return TensorPrimitives.Dot(row, probe);
        ref float x = ref MemoryMarshal.GetReference(row);
        ref float y = ref MemoryMarshal.GetReference(probe);
        Vector256<float> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
        int i = 0;
        for (; i <= row.Length - 32; i += 32)
        {
            sum0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i), sum0);
            sum1 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, (nuint)i + 8), Vector256.LoadUnsafe(ref y, (nuint)i + 8), sum1);
            sum2 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, (nuint)i + 16), Vector256.LoadUnsafe(ref y, (nuint)i + 16), sum2);
            sum3 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, (nuint)i + 24), Vector256.LoadUnsafe(ref y, (nuint)i + 24), sum3);
        }
        float sum = Vector256.Sum((sum0 + sum1) + (sum2 + sum3));
        for (; i < row.Length; i++) sum += row[i] * probe[i];
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
