namespace FaceForge.Formats.PyTorch;

/// <summary>Element types FaceForge reads from and writes to weight files.</summary>
public enum TensorElementType
{
    /// <summary>32-bit float.</summary>
    Float32,
    /// <summary>64-bit float.</summary>
    Float64,
    /// <summary>16-bit float.</summary>
    Float16,
    /// <summary>64-bit signed integer.</summary>
    Int64,
    /// <summary>32-bit signed integer.</summary>
    Int32,
    /// <summary>Unsigned byte.</summary>
    UInt8,
}

/// <summary>A dense tensor's element type, shape and contiguous little-endian bytes, free of any tensor library.</summary>
/// <param name="ElementType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Data">Row-major contiguous bytes.</param>
public sealed record TensorData(TensorElementType ElementType, long[] Shape, byte[] Data)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Float64 or TensorElementType.Int64 => 8,
        TensorElementType.Float32 or TensorElementType.Int32 => 4,
        TensorElementType.Float16 => 2,
        _ => 1,
    };

    /// <summary>The values as floats (converting from any element type).</summary>
    public float[] ToFloats()
    {
        var result = new float[ElementCount];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = ElementType switch
            {
                TensorElementType.Float32 => BitConverter.ToSingle(Data, 4 * i),
                TensorElementType.Float64 => (float)BitConverter.ToDouble(Data, 8 * i),
                TensorElementType.Float16 => (float)BitConverter.ToHalf(Data, 2 * i),
                TensorElementType.Int64 => BitConverter.ToInt64(Data, 8 * i),
                TensorElementType.Int32 => BitConverter.ToInt32(Data, 4 * i),
                _ => Data[i],
            };
        }
        return result;
    }

    /// <summary>Whether every value is a finite number (always true for integer types).</summary>
    public bool IsFinite() => ElementType switch
    {
        TensorElementType.Float32 => AllFinite<float>(Data),
        TensorElementType.Float64 => AllFinite<double>(Data),
        TensorElementType.Float16 => AllFinite<Half>(Data),
        _ => true,
    };

    private static bool AllFinite<T>(byte[] data) where T : struct, System.Numerics.INumberBase<T> =>
        System.Numerics.Tensors.TensorPrimitives.IsFiniteAll(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(data));

    /// <summary>Shape as text, e.g. [64, 3, 3, 3].</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
