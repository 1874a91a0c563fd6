using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Runtime;

/// <summary>
/// NCHW tensors stored channels-last (NHWC strides, same shape and values). TorchSharp has no memory_format
/// argument, so the layout is made by permuting; libtorch's CPU convolutions (oneDNN) then keep it through the
/// network and run MobileFaceNet's depthwise and 1x1 convolutions faster, above all their backward pass
/// (docs/benchmarks.md, "Training and inference throughput").
/// </summary>
/// <remarks>
/// The layout is used only where libtorch computes it right. On a 2-core AMD EPYC virtual machine (family 26, Zen 5,
/// no cache topology visible to the guest) oneDNN 3.7's channels-last 1x1 convolution (brgconv_1x1:avx512_core) mixed
/// the images of a batch (a 1x1 128 -> 512 convolution off by 2-3 on outputs of unit scale, a face's embedding at
/// cosine 0.97 to itself alone) and crashed for 256 -> 1024, while its NCHW kernels were exact. So before the first
/// use a few convolutions of the shapes the backbones have run both ways, on fixed inputs (the random generator is
/// not touched); if any differs, every network runs NCHW (<see cref="Enabled"/> false): slower, right.
/// The fault is recorded for later processes, which limit oneDNN to AVX2 (<see cref="KernelVerdict"/>) and run
/// channels-last again if the check then passes; processes started by the one that found the fault inherit its NCHW
/// choice (FACEFORGE_CHANNELS_LAST=0), so parent and children compute alike. FACEFORGE_CHANNELS_LAST=0 or 1 forces the
/// choice. Thread-safe.
/// </remarks>
public static class ChannelsLast
{
    private static readonly Lazy<bool> Check = new(Decide, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether networks run channels-last: libtorch's channels-last convolutions agreed with NCHW here.</summary>
    public static bool Enabled => Check.Value;

    /// <summary>
    /// A channels-last copy of a 4-d NCHW tensor (the tensor itself if it already is one); where channels-last is off,
    /// the tensor itself if contiguous, else a contiguous copy.
    /// </summary>
    public static Tensor From(Tensor images)
    {
        if (images.dim() != 4) throw new ArgumentException($"Expected an N x C x H x W tensor, got {images.dim()} dimensions.", nameof(images));
        if (!Enabled) return images.is_contiguous() ? images : images.contiguous();
        return Layout(images);
    }

    private static Tensor Layout(Tensor images)
    {
        long[] stride = images.stride();
        if (stride[1] == 1 && stride[3] == images.shape[1]) return images;
        return images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    private static bool Decide()
    {
        switch (Environment.GetEnvironmentVariable("FACEFORGE_CHANNELS_LAST"))
        {
            case "0": return false;
            case "1": return true;
        }
        TorchRuntime.EnsureLoaded();
        // (input channels, output channels, kernel, groups, height, width), batch 2: the 1x1 expansion at the end of
        // MobileFaceNet (the shape that failed), other 1x1s, a depthwise and a dense 3x3.
        (long In, long Out, long Kernel, long Groups, long H, long W)[] shapes =
            [(128, 512, 1, 1, 7, 6), (64, 128, 1, 1, 28, 24), (128, 64, 1, 1, 14, 12), (64, 64, 3, 64, 28, 24), (64, 64, 3, 1, 14, 12)];
        if (shapes.All(s => Agrees(s.In, s.Out, s.Kernel, s.Groups, s.H, s.W))) return true;
        KernelVerdict.RecordChannelsLastFault();
        // Processes started from this one keep its layout and kernels, so a run it resumes or compares with gets the
        // same arithmetic (later, unrelated processes take the recorded AVX2 kernels).
        Environment.SetEnvironmentVariable("FACEFORGE_CHANNELS_LAST", "0");
        return false;
    }

    /// <summary>Whether one convolution gives the same result channels-last as NCHW (to float rounding).</summary>
    internal static bool Agrees(long input, long output, long kernel, long groups, long height, long width)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long fanIn = input / groups * kernel * kernel;
        // Numbers as Scalars held through the calls (a temporary may be freed mid-call: RootedScalars).
        using Scalar weights = output * fanIn, pixels = 2 * input * height * width, weightStep = 0.7311, pixelStep = 0.3917, pixelGain = 1.7f, weightGain = MathF.Sqrt(2f / fanIn);
        var weight = arange(RootedScalars.Zero, weights, RootedScalars.One, ScalarType.Float32).mul(weightStep).sin().reshape(output, input / groups, kernel, kernel).mul(weightGain);
        var x = arange(RootedScalars.Zero, pixels, RootedScalars.One, ScalarType.Float32).mul(pixelStep).sin().mul(pixelGain).reshape(2, input, height, width);
        var nchw = nn.functional.conv2d(x, weight, padding: [kernel / 2, kernel / 2], groups: groups);
        var nhwc = nn.functional.conv2d(Layout(x), weight, padding: [kernel / 2, kernel / 2], groups: groups);
        double error = (nhwc - nchw).abs().max().item<float>(), scale = nchw.abs().max().item<float>();
        return error <= 1e-4 * Math.Max(1, scale);
    }
}
