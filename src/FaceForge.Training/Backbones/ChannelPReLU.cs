using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Backbones;

/// <summary>
/// PReLU with one slope per channel (parameter "weight", initialised 0.25: nn.PReLU's name, shape and start, so
/// checkpoints and imported weights load unchanged), whose backward pass over float32 feature maps runs in a vectorised
/// managed loop. libtorch's own PReLU backward runs element by element over channels-last maps, and it took a quarter
/// of the demo's training time (docs/benchmarks.md, "PReLU's backward in managed code"). The forward pass is libtorch's, so outputs are
/// bit-identical to nn.PReLU's, and so is the input gradient; the slopes' gradient is summed in another order.
/// Thread-safety: as any module, one forward/backward at a time per instance.
/// </summary>
public sealed class ChannelPReLU : nn.Module<Tensor, Tensor>
{
    // The slope PReLU starts from, rooted (RootedScalars).
    private static readonly Scalar InitialSlope = 0.25f;

    private readonly Parameter weight;

    /// <summary>A PReLU over <paramref name="channels"/> channels.</summary>
    public ChannelPReLU(long channels) : base(nameof(ChannelPReLU))
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "A PReLU needs at least one channel.");
        weight = nn.Parameter(torch.full(channels, InitialSlope));
        RegisterComponents();
    }

    /// <summary>The slopes, one per channel.</summary>
    public Tensor Weight => weight;

    /// <summary>PReLU of an N x C x H x W (or any N x C x …) tensor.</summary>
    public override Tensor forward(Tensor x)
    {
        // The managed backward reads the buffers as spans (at most 2^31 - 1 bytes); anything else is libtorch's.
        bool managed = x.dim() == 4 && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && weight.shape[0] == x.shape[1]
            && x.numel() <= int.MaxValue / sizeof(float) && torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad);
        if (!managed) return nn.functional.prelu(x, weight);
        var y = Function.apply(x, weight);
        Function.ReleaseAfterApply();
        return y;
    }

    /// <summary>
    /// The autograd node: libtorch's forward, the managed backward. An exception inside a custom node's backward ends
    /// the process (TorchSharp calls it from native code), so the backward checks nothing it can avoid: the forward sends
    /// what it cannot take to libtorch.
    /// </summary>
    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        // TorchSharp keeps an empty tensor of the output's size per custom node (to materialise an undefined incoming
        // gradient as zeros) for as long as the graph lives: one more activation per PReLU (0.45 GB more after the CASIA
        // MobileFaceNet's forward pass at batch 64). Gradients are not materialised here (the node handles an undefined
        // one), so that tensor is released right after the node is made. TorchSharp 0.107 has no public way to skip it:
        // the fields are private, found by name; if they are ever missing the tensor is simply kept (ChannelPReLUTests
        // notices).
        private static readonly FieldInfo? NodeField = typeof(autograd.AutogradContext).GetField("_node", BindingFlags.NonPublic | BindingFlags.Instance);
        private static FieldInfo? cacheField;
        [ThreadStatic] private static autograd.AutogradContext? lastContext;
        [ThreadStatic] private static bool lastReleased;
        [ThreadStatic] private static List<Tensor>? returned;
        [ThreadStatic] private static Tensor? lastOutput;

        public override string Name => nameof(ChannelPReLU);

        /// <summary>Whether the last node made on this thread had its zero-gradient template released.</summary>
        internal static bool LastReleased => lastReleased;

        /// <summary>
        /// After apply: drops this thread's last forward's own output handle (TorchSharp hands out another for the same
        /// tensor and leaves this one to the dispose scope, which would keep every PReLU output alive through the
        /// backward pass where libtorch frees each once its consumer's backward has run) and the output cache.
        /// </summary>
        internal static void ReleaseAfterApply()
        {
            lastOutput?.Dispose();
            lastOutput = null;
            var cache = lastContext is { } ctx && NodeField?.GetValue(ctx) is { } node
                ? (cacheField ??= node.GetType().GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance))?.GetValue(node) as List<Tensor>
                : null;
            lastContext = null; // the context must not outlive its graph through this thread
            lastReleased = cache is not null;
            if (cache is null) return;
            for (int i = 0; i < cache.Count; i++)
            {
                cache[i]?.Dispose();
                cache[i] = null!;
            }
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var w = (Tensor)vars[1];
            // Saved variables live with the node: a graph never run backward frees them with itself, and an input changed
            // in place after the forward is caught when they are unpacked, as with libtorch's PReLU.
            ctx.save_for_backward([x, w]);
            ctx.set_materialize_grads(false);
            lastContext = ctx;
            lastOutput = nn.functional.prelu(x, w);
            return lastOutput;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            // Handles given to this node by TorchSharp, and those it hands back, would otherwise stay in the step's
            // dispose scope until the step ends, keeping every PReLU's incoming and outgoing gradient alive through the
            // whole backward pass. Autograd has taken the previous call's results by now (this thread's backward runs
            // one node at a time), and this call's input is not used after it.
            foreach (var t in returned ?? []) t?.Dispose();
            returned = null;
            if (grad is null || grad.IsInvalid) return [null!, null!]; // no gradient came from above
            using var incoming = grad;
            var saved = ctx.get_saved_variables();
            using Tensor x = saved[0], w = saved[1];
            // NHWC order: channel = flat index mod C. For channels-last maps (what the backbones run) these are views.
            // Every handle is disposed here: one left to the dispose scope keeps its tensor alive until the step ends.
            using var xv = x.permute(0, 2, 3, 1);
            using var xs = xv.contiguous();
            using var gv = grad.permute(0, 2, 3, 1);
            using var gs = gv.contiguous();
            using var ws = w.detach().contiguous();
            using var gradInput = torch.empty_like(xs);
            var slopes = new double[w.shape[0]];
            Backward(Floats(xs), Floats(gs), Floats(ws), Floats(gradInput), slopes, torch.get_num_threads());
            returned = [gradInput.permute(0, 3, 1, 2), torch.tensor(slopes.Select(v => (float)v).ToArray())];
            return returned;
        }

        private static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);
    }

    /// <summary>Whether the node made by this thread's last training forward had TorchSharp's zero-gradient template released (for tests).</summary>
    internal static bool LastNodeReleasedOutputCache() => Function.LastReleased;

    /// <summary>
    /// dL/dx = g where x &gt; 0, a g elsewhere; dL/da_c = the sum of g x over channel c's elements with x &lt;= 0
    /// (libtorch's definitions). <paramref name="x"/>, <paramref name="grad"/> and <paramref name="gradInput"/> hold
    /// rows of C = <paramref name="slopes"/>.Length channels, channel fastest. Work is cut into blocks of 64 periods
    /// (C x vector lanes elements each), spread over up to <paramref name="threads"/> threads; each block's float sums
    /// are added in block order in double, so the result does not depend on the thread count.
    /// </summary>
    internal static unsafe void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> grad, ReadOnlySpan<float> slopes, Span<float> gradInput, Span<double> gradSlopes, int threads = 1)
    {
        int c = slopes.Length, lanes = Vector<float>.Count;
        if (x.Length % c != 0 || grad.Length != x.Length || gradInput.Length != x.Length || gradSlopes.Length != c)
            throw new ArgumentException($"PReLU backward: {x.Length} inputs, {grad.Length} gradients and {gradInput.Length} outputs for {c} channels.");
        // A period of C x lanes elements is a whole number of vectors and of rows, so one tiled copy of the slopes
        // lines up with every period and the per-lane sums fold back onto channels at the end.
        int period = c * lanes, block = 64 * period;
        var tiled = new float[period];
        for (int i = 0; i < period; i++) tiled[i] = slopes[i % c];
        int full = x.Length - x.Length % period, blocks = (full + block - 1) / block;
        var blockSums = new double[blocks][];
        fixed (float* px = x, pg = grad, pgi = gradInput)
        {
            // Pointers, not spans, cross into the parallel body; the arrays stay pinned for its whole run.
            nint xp = (nint)px, gp = (nint)pg, gip = (nint)pgi;
            void Run(int b)
            {
                int start = b * block, end = Math.Min(full, start + block);
                var xs = new ReadOnlySpan<float>((float*)xp + start, end - start);
                var gs = new ReadOnlySpan<float>((float*)gp + start, end - start);
                var outs = new Span<float>((float*)gip + start, end - start);
                var partial = new Vector<float>[c]; // one accumulator per vector position of the period
                var zero = Vector<float>.Zero;
                for (int p = 0; p < xs.Length; p += period)
                {
                    for (int v = 0; v < c; v++)
                    {
                        int k = p + v * lanes;
                        var xv = new Vector<float>(xs.Slice(k, lanes));
                        var gv = new Vector<float>(gs.Slice(k, lanes));
                        var positive = Vector.GreaterThan(xv, zero);
                        Vector.ConditionalSelect(positive, gv, gv * new Vector<float>(tiled, v * lanes)).CopyTo(outs.Slice(k, lanes));
                        partial[v] += Vector.ConditionalSelect(positive, zero, gv * xv);
                    }
                }
                var sums = new double[period];
                for (int v = 0; v < c; v++)
                    for (int l = 0; l < lanes; l++) sums[v * lanes + l] = partial[v][l];
                blockSums[b] = sums;
            }
            if (threads > 1 && blocks > 1) Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, Run);
            else for (int b = 0; b < blocks; b++) Run(b);
        }
        var total = new double[period];
        foreach (var sums in blockSums)
            for (int i = 0; i < period; i++) total[i] += sums[i];
        for (int i = full; i < x.Length; i++)
        {
            float xi = x[i], gi = grad[i];
            bool positive = xi > 0;
            gradInput[i] = positive ? gi : slopes[i % c] * gi;
            if (!positive) gradSlopes[i % c] += gi * xi;
        }
        for (int i = 0; i < period; i++) gradSlopes[i % c] += total[i];
    }
}
