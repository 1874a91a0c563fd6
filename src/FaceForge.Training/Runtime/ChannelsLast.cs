using static TorchSharp.torch;

namespace FaceForge.Training.Runtime;

/// <summary>
/// NCHW tensors stored channels-last (NHWC strides, same shape and values). TorchSharp has no memory_format
/// argument, so the layout is made by permuting; libtorch's CPU convolutions (oneDNN) then keep it through the
/// network and run MobileFaceNet's depthwise and 1x1 convolutions faster, above all their backward pass
/// (docs/benchmarks.md, "Training and inference throughput").
/// </summary>
public static class ChannelsLast
{
    /// <summary>A channels-last copy of a 4-d NCHW tensor (the tensor itself if it already is one).</summary>
    public static Tensor From(Tensor images)
    {
        if (images.dim() != 4) throw new ArgumentException($"Expected an N x C x H x W tensor, got {images.dim()} dimensions.", nameof(images));
        long[] stride = images.stride();
        if (stride[1] == 1 && stride[3] == images.shape[1]) return images;
        return images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }
}
