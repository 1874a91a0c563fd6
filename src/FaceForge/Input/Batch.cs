using System.Buffers;

namespace FaceForge.Input;

/// <summary>
/// One batch of normalised images in N x 3 x H x W (channels first, RGB) order with their labels (and, with extra
/// views, more crops of the same samples). The pixel buffer
/// is rented from a pool: dispose the batch once its contents are copied out (e.g. into a tensor).
/// </summary>
public sealed class Batch : IDisposable
{
    private readonly InputView[] _views;
    private float[][]? _pixels;

    internal Batch(int index, int count, InputView[] views, float[][] pixels, int[] labels, int[] sampleIndices)
    {
        Index = index;
        Count = count;
        Height = views[0].Height;
        Width = views[0].Width;
        _views = views;
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

    /// <summary>The normalised pixels of the main view, N x 3 x H x W.</summary>
    public ReadOnlySpan<float> Pixels => ViewPixels(0);

    /// <summary>Views per sample: 1 plus <see cref="BatchLoaderOptions.ExtraViews"/>.</summary>
    public int ViewCount => _views.Length;

    /// <summary>The size of view <paramref name="view"/> (0 is the main one).</summary>
    public (int Width, int Height) ViewSize(int view) => (_views[view].Width, _views[view].Height);

    /// <summary>The normalised pixels of view <paramref name="view"/>, N x 3 x H x W of that view's size.</summary>
    public ReadOnlySpan<float> ViewPixels(int view) =>
        (_pixels ?? throw new ObjectDisposedException(nameof(Batch)))[view].AsSpan(0, Count * 3 * _views[view].Height * _views[view].Width);

    /// <summary>The label of each image.</summary>
    public int[] Labels { get; }

    /// <summary>The dataset index of each image.</summary>
    public int[] SampleIndices { get; }

    /// <summary>Returns the pixel buffer to the pool.</summary>
    public void Dispose()
    {
        var pixels = Interlocked.Exchange(ref _pixels, null);
        if (pixels is not null)
            foreach (var buffer in pixels) ArrayPool<float>.Shared.Return(buffer);
    }
}
