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
        ToHalf(vector, half);
        return MemoryMarshal.AsBytes(half.AsSpan()).ToArray();
    }

    /// <summary>
    /// float32 to float16 as galleries store it: rounded to nearest, and values below float16's smallest normal
    /// (6.1e-5) stored as zero. A subnormal half becomes a subnormal float in the float16 scan (see
    /// <see cref="ExactIndex"/>), and each costs the CPU's multiply-add a microcode assist of about 100 cycles (the
    /// scan ran 25 % slower on random unit vectors, about one such value per two rows). Dropping them changes a
    /// cosine by at most 6.1e-5 times the probe's value at that place, below float16's own rounding of the rest.
    /// </summary>
    public static void ToHalf(ReadOnlySpan<float> vector, Span<Half> half)
    {
        TensorPrimitives.ConvertToHalf(vector, half);
        foreach (ref ushort bits in MemoryMarshal.Cast<Half, ushort>(half))
            if ((bits & 0x7C00) == 0) bits &= 0x8000; // exponent zero: keep the sign, drop the mantissa
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
