using System.Buffers;

namespace FaceForge.Input;

/// <summary>
/// One batch of normalised images in N x 3 x H x W (channels first, RGB) order with their labels. The pixel buffer
/// is rented from a pool: dispose the batch once its contents are copied out (e.g. into a tensor).
/// </summary>
public sealed class Batch : IDisposable
{
    private float[]? _pixels;

    internal Batch(int index, int count, int height, int width, float[] pixels, int[] labels, int[] sampleIndices)
    {
        Index = index;
        Count = count;
        Height = height;
        Width = width;
        _pixels = pixels;
        Labels = labels;
        SampleIndices = sampleIndices;
    }

    /// <summary>Position of the batch in its epoch.</summary>
    public int Index { get; }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>The normalised pixels, N x 3 x H x W.</summary>
    public ReadOnlySpan<float> Pixels => (_pixels ?? throw new ObjectDisposedException(nameof(Batch))).AsSpan(0, Count * 3 * Height * Width);

    /// <summary>The label of each image.</summary>
    public int[] Labels { get; }

    /// <summary>The dataset index of each image.</summary>
    public int[] SampleIndices { get; }

    /// <summary>Returns the pixel buffer to the pool.</summary>
    public void Dispose()
    {
        var pixels = Interlocked.Exchange(ref _pixels, null);
        if (pixels is not null) ArrayPool<float>.Shared.Return(pixels);
    }
}
