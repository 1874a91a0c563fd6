using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FaceForge.Gallery;

/// <summary>Vectors to and from the bytes a store keeps (little-endian float32 or float16).</summary>
internal static class VectorCodec
{
    public static int BytesPer(GalleryPrecision precision) => precision == GalleryPrecision.Float16 ? 2 : 4;

    public static byte[] Encode(ReadOnlySpan<float> vector, GalleryPrecision precision)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Gallery files are little-endian.");
        if (precision == GalleryPrecision.Float32) return MemoryMarshal.AsBytes(vector).ToArray();
        var half = new Half[vector.Length];
        TensorPrimitives.ConvertToHalf(vector, half);
        return MemoryMarshal.AsBytes(half.AsSpan()).ToArray();
    }

    /// <summary>The vector in <paramref name="bytes"/>, or null when its length is not <paramref name="size"/> values.</summary>
    public static float[]? Decode(ReadOnlySpan<byte> bytes, int size, GalleryPrecision precision)
    {
        if (bytes.Length != size * BytesPer(precision)) return null;
        var vector = new float[size];
        if (precision == GalleryPrecision.Float32) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(vector);
        else TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), vector);
        return vector;
    }
}
