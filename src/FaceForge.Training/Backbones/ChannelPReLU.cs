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
    private readonly Parameter weight;

    /// <summary>A PReLU over <paramref name="channels"/> channels.</summary>
    public ChannelPReLU(long channels) : base(nameof(ChannelPReLU))
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "A PReLU needs at least one channel.");
        weight = nn.Parameter(torch.full(channels, 0.25f));
        RegisterComponents();
    }

    /// <summary>The slopes, one per channel.</summary>
    public Tensor Weight => weight;

    /// <summary>PReLU of an N x C x H x W (or any N x C x …) tensor.</summary>
    public override Tensor forward(Tensor x)
    {
        bool managed = x.dim() == 4 && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && weight.shape[0] == x.shape[1]
            && torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad);
        if (!managed) return nn.functional.prelu(x, weight);
        var y = Function.apply(x, weight);
        Function.ReleaseAfterApply();
        return y;
    }

    /// <summary>The autograd node: libtorch's forward, the managed backward.</summary>
    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        // TorchSharp keeps an empty tensor of the output's size per custom node (to materialise an undefined incoming
        // gradient as zeros) for as long as the graph lives: one more activation per PReLU (0.45 GB more after the CASIA
        // MobileFaceNet's forward pass at batch 64). Gradients are not materialised here (the node handles an undefined one), so that
        // tensor is released right after the node is made. TorchSharp 0.107 has no public way to skip it: the fields are
        // private, found by name; if they are ever missing the tensor is simply kept (ChannelPReLUTests notices).
        private static readonly FieldInfo? NodeField = typeof(autograd.AutogradContext).GetField("_node", BindingFlags.NonPublic | BindingFlags.Instance);
        private static FieldInfo? cacheField;
        [ThreadStatic] private static autograd.AutogradContext? lastContext;
        [ThreadStatic] private static List<Tensor>? returned;
        [ThreadStatic] private static Tensor? lastOutput;

        public override string Name => nameof(ChannelPReLU);

        /// <summary>Whether the last node made on this thread may still hold its zero-gradient template.</summary>
        internal static bool HoldsOutputCache() => OutputCache(lastContext) is not { } cache || cache.Any(t => t is not null);

        /// <summary>
        /// After apply: drops this thread's last forward's own output handle (TorchSharp hands out another for the same
        /// tensor and leaves this one to the dispose scope, which would keep every PReLU output alive through the
        /// backward pass where libtorch frees each once its consumer's backward has run) and the output cache.
        /// </summary>
        internal static void ReleaseAfterApply()
        {
            lastOutput?.Dispose();
            lastOutput = null;
            if (OutputCache(lastContext) is not { } cache) return;
            for (int i = 0; i < cache.Count; i++)
            {
                cache[i]?.Dispose();
                cache[i] = null!;
            }
        }

        private static List<Tensor>? OutputCache(autograd.AutogradContext? ctx)
        {
            if (ctx is null || NodeField?.GetValue(ctx) is not { } node) return null;
            cacheField ??= node.GetType().GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance);
            return cacheField?.GetValue(node) as List<Tensor>;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var w = (Tensor)vars[1];
            // Not save_for_backward: TorchSharp's saved variables live as long as the node, where libtorch frees a node's
            // inputs as soon as its backward has run; held here, they go right after the backward. Out of
            // any dispose scope (a replica's forward scope ends before the backward); a graph never run backward leaves
            // them to the finaliser.
            ctx.save_data(nameof(Saved), new Saved(x.detach().DetachFromDisposeScope(), w.detach().DetachFromDisposeScope()));
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
            var saved = (Saved)ctx.get_data(nameof(Saved));
            using Tensor x = saved.Input ?? throw new InvalidOperationException("PReLU: a second backward through the same graph (retain_graph) is not supported."), w = saved.Slopes!;
            saved.Input = saved.Slopes = null;
            if (grad is null || grad.IsInvalid) return [null!, null!]; // the output did not reach the loss
            using var incoming = grad;
            // NHWC order: channel = flat index mod C. For channels-last maps (what the backbones run) these are views.
            // Every handle is disposed here: one left to the dispose scope keeps its tensor alive until the step ends.
            using var xv = x.permute(0, 2, 3, 1);
            using var xs = xv.contiguous();
            using var gv = grad.permute(0, 2, 3, 1);
            using var gs = gv.contiguous();
            using var ws = w.contiguous();
            using var gradInput = torch.empty_like(xs);
            var slopes = new double[w.shape[0]];
            Backward(Floats(xs), Floats(gs), Floats(ws), Floats(gradInput), slopes);
            returned = [gradInput.permute(0, 3, 1, 2), torch.tensor(slopes.Select(v => (float)v).ToArray())];
            return returned;
        }

        /// <summary>The forward's input and slopes, until the backward has used them (a dispose scope frees them otherwise).</summary>
        private sealed class Saved(Tensor input, Tensor slopes)
        {
            public Tensor? Input = input;
            public Tensor? Slopes = slopes;
        }

        private static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);
    }

    /// <summary>Whether the node made by this thread's last training forward still holds TorchSharp's zero-gradient template (for tests).</summary>
    internal static bool LastNodeHoldsOutputCache() => Function.HoldsOutputCache();

    /// <summary>
    /// dL/dx = g where x &gt; 0, a g elsewhere; dL/da_c = the sum of g x over channel c's elements with x &lt;= 0
    /// (libtorch's definitions). <paramref name="x"/>, <paramref name="grad"/> and <paramref name="gradInput"/> hold
    /// rows of C = <paramref name="slopes"/>.Length channels, channel fastest.
    /// </summary>
    internal static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> grad, ReadOnlySpan<float> slopes, Span<float> gradInput, Span<double> gradSlopes)
    {
        int c = slopes.Length, lanes = Vector<float>.Count;
        if (x.Length % c != 0 || grad.Length != x.Length || gradInput.Length != x.Length || gradSlopes.Length != c)
            throw new ArgumentException($"PReLU backward: {x.Length} inputs, {grad.Length} gradients and {gradInput.Length} outputs for {c} channels.");
        // A period of C x lanes elements is a whole number of vectors and of rows, so one tiled copy of the slopes
        // lines up with every period and the per-lane sums fold back onto channels at the end.
        int period = c * lanes;
        var tiled = new float[period];
        for (int i = 0; i < period; i++) tiled[i] = slopes[i % c];
        // One accumulator per vector position of the period (period / lanes = C of them).
        var partial = new Vector<float>[c];
        var sums = new double[period];
        int full = x.Length - x.Length % period, periodsInBlock = 0;
        var zero = Vector<float>.Zero;
        for (int start = 0; start < full; start += period)
        {
            for (int v = 0; v < c; v++)
            {
                int k = v * lanes;
                var xv = new Vector<float>(x.Slice(start + k, lanes));
                var gv = new Vector<float>(grad.Slice(start + k, lanes));
                var positive = Vector.GreaterThan(xv, zero);
                Vector.ConditionalSelect(positive, gv, gv * new Vector<float>(tiled, k)).CopyTo(gradInput.Slice(start + k, lanes));
                partial[v] += Vector.ConditionalSelect(positive, zero, gv * xv);
            }
            // Float partial sums over at most 64 periods, then doubles: the slope gradient sums up to N x H x W terms.
            if (++periodsInBlock == 64 || start + period == full)
            {
                for (int v = 0; v < c; v++)
                {
                    for (int l = 0; l < lanes; l++) sums[v * lanes + l] += partial[v][l];
                    partial[v] = zero;
                }
                periodsInBlock = 0;
            }
        }
        for (int i = full; i < x.Length; i++)
        {
            float xi = x[i], gi = grad[i];
            bool positive = xi > 0;
            gradInput[i] = positive ? gi : slopes[i % c] * gi;
            if (!positive) gradSlopes[i % c] += gi * xi;
        }
        for (int i = 0; i < period; i++) gradSlopes[i % c] += sums[i];
    }
}
