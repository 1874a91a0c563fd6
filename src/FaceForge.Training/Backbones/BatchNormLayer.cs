using FaceForge.Training.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Backbones;

/// <summary>
/// Batch normalisation over channels (an N x C x H x W input, as nn.BatchNorm2d) or features (N x C or N x C x L, as
/// nn.BatchNorm1d): the same parameters, buffers, names and arithmetic as TorchSharp's, so checkpoints and imported
/// weights load unchanged, but the step counter is advanced with a Scalar that is never collected.
/// </summary>
/// <remarks>
/// TorchSharp's BatchNorm advances num_batches_tracked with add_(1), whose two temporary Scalars can be freed by their
/// finalizer while libtorch still reads them when a garbage collection (a data-loading thread's) falls inside the call:
/// training then died within minutes with "Expected false to be true … toLong at Scalar.h:140" or "For integral input
/// tensors, argument alpha must not be a floating point number" (docs/reliability.md). A stress run of the demo's
/// backbone with one allocating thread failed within seconds with TorchSharp's module and ran clean with this one.
/// Thread-safety: as any module, one forward at a time per instance.
/// </remarks>
public sealed class BatchNormLayer : BatchNorm
{
    private readonly bool _spatial;

    private BatchNormLayer(long features, double eps, double momentum, bool affine, bool spatial)
        : base(features, eps, momentum, affine, track_running_stats: true, device: null, dtype: null, spatial ? "BatchNorm2d" : "BatchNorm1d")
    {
        _spatial = spatial;
    }

    /// <summary>Normalisation of each of <paramref name="channels"/> channels of N x C x H x W maps (nn.BatchNorm2d).</summary>
    public static BatchNormLayer Channels(long channels, double eps = 1e-5, double momentum = 0.1) => new(channels, eps, momentum, affine: true, spatial: true);

    /// <summary>Normalisation of each of <paramref name="features"/> features of N x C vectors (nn.BatchNorm1d).</summary>
    public static BatchNormLayer Features(long features, double eps = 1e-5, double momentum = 0.1, bool affine = true) => new(features, eps, momentum, affine, spatial: false);

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        if (training && num_batches_tracked is not null) num_batches_tracked.add_(RootedScalars.One, RootedScalars.One); // in place: returns the buffer itself
        // No momentum: a cumulative average over the batches counted, as nn.BatchNorm's.
        double factor = momentum ?? (num_batches_tracked is null ? 0 : 1.0 / Math.Max(1, num_batches_tracked.item<long>()));
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, factor, eps);
    }

    /// <inheritdoc/>
    protected override void ValidateInputDimensions(Tensor input)
    {
        long dims = input.dim();
        if (_spatial ? dims != 4 : dims is not (2 or 3))
            throw new ArgumentException($"{GetName()} expects {(_spatial ? "an N x C x H x W" : "an N x C or N x C x L")} input, got {dims} dimensions.", nameof(input));
    }
}
