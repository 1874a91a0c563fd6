using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Distributed;

/// <summary>
/// Data parallelism inside one process: copies of a network, each running one piece of every batch on its own thread
/// with one libtorch thread. A small network at batch sizes of tens gains more on a few cores from this than from
/// libtorch's own threads, which fork and join around every operation (docs/benchmarks.md, "Replicas").
/// </summary>
/// <remarks>
/// Each piece is normalised by its own BatchNorm statistics, as on that many processes (the <c>micro_batches</c>
/// arithmetic). The primary copy is the one the optimizer steps and checkpoints save: <see cref="Synchronise"/> copies
/// its weights to the others and sets every copy's BatchNorm running statistics to their mean over the copies (for
/// the running means exactly what one update with the whole batch's mean gives). Driven from one thread at a time, in
/// the order <see cref="Forward"/>, the loss's backward into the returned tensor, <see cref="Backward"/>.
/// </remarks>
internal sealed class ThreadReplicas : IDisposable
{
    private readonly nn.Module<Tensor, Tensor>[] _copies;
    private readonly Tensor[][] _parameters, _buffers;
    private readonly Worker[] _workers;
    private readonly Tensor?[] _outputs;
    private readonly int _callerThreads;
    private bool _stale = true;

    /// <summary>Makes <paramref name="count"/> - 1 copies of <paramref name="primary"/> with <paramref name="create"/> (libtorch's global generator is left as it was).</summary>
    public ThreadReplicas(nn.Module<Tensor, Tensor> primary, Func<nn.Module<Tensor, Tensor>> create, int count)
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, "Replicas need at least two copies.");
        _callerThreads = torch.get_num_threads();
        var state = torch.get_rng_state();
        try
        {
            _copies = [primary, .. Enumerable.Range(1, count - 1).Select(_ => create())];
        }
        finally
        {
            torch.set_rng_state(state);
            state.Dispose();
        }
        _parameters = _copies.Select(c => c.parameters().Select(p => (Tensor)p).ToArray()).ToArray();
        _buffers = _copies.Select(c => c.buffers().ToArray()).ToArray();
        for (int r = 1; r < count; r++)
        {
            if (!Enumerable.Range(0, _parameters[0].Length).All(i => i < _parameters[r].Length && _parameters[r][i].shape.SequenceEqual(_parameters[0][i].shape)) || _parameters[r].Length != _parameters[0].Length || _buffers[r].Length != _buffers[0].Length)
                throw new ArgumentException("The replica factory made a network of another shape than the primary.", nameof(create));
            if (primary.training) _copies[r].train(); else _copies[r].eval();
        }
        _outputs = new Tensor?[count];
        _workers = Enumerable.Range(0, count).Select(i => new Worker(i)).ToArray();
        // The caller's own small operations (loss, optimizer, sums) on one thread too: an OpenMP team of its own would
        // spin between them on the cores the replicas run on.
        torch.set_num_threads(1);
    }

    /// <summary>Copies.</summary>
    public int Count => _copies.Length;

    /// <summary>Marks the copies out of date (the primary's weights were loaded): the next call copies all of its state.</summary>
    public void Invalidate() => _stale = true;

    /// <summary>
    /// The network over <paramref name="images"/>, one piece per copy, in parallel. Returns the pieces' outputs joined
    /// into a leaf that requires gradient: the loss's backward stops there, and <see cref="Backward"/> carries its
    /// gradient into each copy.
    /// </summary>
    public Tensor Forward(Tensor images)
    {
        Synchronise();
        ReleaseOutputs();
        var pieces = Split(images);
        foreach (var copy in _copies.Skip(1)) copy.zero_grad();
        Run(Count, r =>
        {
            using var scope = torch.NewDisposeScope();
            _outputs[r] = _copies[r].call(ChannelsLast.From(pieces[r])).DetachFromDisposeScope();
        });
        using (torch.no_grad())
            return torch.cat(_outputs.Select(o => o!.detach()).ToArray()).requires_grad_(true);
    }

    /// <summary>The network over <paramref name="images"/> without gradient, one piece per copy, in parallel (a frozen teacher).</summary>
    public Tensor Infer(Tensor images)
    {
        Synchronise();
        // A last batch smaller than the copies leaves some idle.
        var pieces = images.chunk(Count);
        var outputs = new Tensor?[pieces.Length];
        try
        {
            Run(pieces.Length, r =>
            {
                // Per thread, as libtorch's gradient mode is.
                using var noGrad = torch.no_grad();
                using var scope = torch.NewDisposeScope();
                outputs[r] = _copies[r].call(ChannelsLast.From(pieces[r])).DetachFromDisposeScope();
            });
            return torch.cat(outputs.ToArray()!);
        }
        finally
        {
            foreach (var output in outputs) output?.Dispose();
        }
    }

    /// <summary>
    /// Backpropagates <paramref name="joined"/>'s gradient (from <see cref="Forward"/>, after the loss's backward)
    /// through every copy in parallel and sums the copies' gradients into the primary's. False, with nothing done, when
    /// it has no gradient (the loss was not finite and never backpropagated).
    /// </summary>
    public bool Backward(Tensor joined)
    {
        try
        {
            var gradient = joined.grad;
            if (gradient is null || gradient.IsInvalid) return false;
            var slices = gradient.chunk(Count);
            Run(Count, r =>
            {
                using var scope = torch.NewDisposeScope();
                _outputs[r]!.backward([slices[r]]);
            });
            using var noGrad = torch.no_grad();
            for (int i = 0; i < _parameters[0].Length; i++)
            {
                var target = _parameters[0][i].grad;
                for (int r = 1; r < Count; r++)
                {
                    var source = _parameters[r][i].grad;
                    if (source is null || source.IsInvalid) continue;
                    if (target is null || target.IsInvalid)
                        throw new InvalidOperationException($"Parameter {i} has a gradient in replica {r} and none in the primary.");
                    target.add_(source);
                }
            }
            return true;
        }
        finally
        {
            ReleaseOutputs();
        }
    }

    /// <summary>
    /// Brings the copies in step with the primary: its weights everywhere, the BatchNorm running statistics averaged
    /// over the copies (or, after <see cref="Invalidate"/> and at the start, the primary's everywhere). Call before
    /// saving the primary; <see cref="Forward"/> calls it itself.
    /// </summary>
    public void Synchronise()
    {
        using var noGrad = torch.no_grad();
        for (int i = 0; i < _parameters[0].Length; i++)
            for (int r = 1; r < Count; r++) _parameters[r][i].copy_(_parameters[0][i]);
        for (int i = 0; i < _buffers[0].Length; i++)
        {
            var primary = _buffers[0][i];
            if (!_stale && primary.is_floating_point())
            {
                for (int r = 1; r < Count; r++) primary.add_(_buffers[r][i]);
                primary.div_(Count);
            }
            for (int r = 1; r < Count; r++) _buffers[r][i].copy_(primary);
        }
        _stale = false;
    }

    public void Dispose()
    {
        ReleaseOutputs();
        foreach (var worker in _workers) worker.Dispose();
        foreach (var copy in _copies.Skip(1)) copy.Dispose();
        // Restores the caller's thread count (and libtorch's default for threads started later, which the workers set).
        torch.set_num_threads(_callerThreads);
    }

    private Tensor[] Split(Tensor images)
    {
        var pieces = images.chunk(Count);
        if (pieces.Length != Count) throw new ArgumentException($"A batch of {images.shape[0]} cannot be split over {Count} replicas.", nameof(images));
        return pieces;
    }

    private void ReleaseOutputs()
    {
        for (int r = 0; r < _outputs.Length; r++)
        {
            _outputs[r]?.Dispose();
            _outputs[r] = null;
        }
    }

    /// <summary>Runs <paramref name="work"/>(r) for the first <paramref name="copies"/> copies on their workers, waits for all, rethrows the first failure.</summary>
    private void Run(int copies, Action<int> work)
    {
        var errors = new Exception?[copies];
        using var done = new CountdownEvent(copies);
        for (int r = 0; r < copies; r++)
        {
            int index = r;
            _workers[r].Post(() =>
            {
                try { work(index); }
                catch (Exception e) { errors[index] = e; }
                finally { done.Signal(); }
            });
        }
        done.Wait();
        if (errors.FirstOrDefault(e => e is not null) is { } error) ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>A thread of its own with one libtorch (OpenMP) thread: the setting is per calling thread.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly BlockingCollection<Action> _jobs = [];
        private readonly Thread _thread;

        public Worker(int index)
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = $"FaceForge replica {index}" };
            _thread.Start();
        }

        public void Post(Action job) => _jobs.Add(job);

        private void Loop()
        {
            torch.set_num_threads(1);
            foreach (var job in _jobs.GetConsumingEnumerable()) job();
        }

        public void Dispose()
        {
            _jobs.CompleteAdding();
            _thread.Join();
            _jobs.Dispose();
        }
    }
}
