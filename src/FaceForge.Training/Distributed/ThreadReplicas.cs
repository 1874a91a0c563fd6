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
    private readonly TorchSharp.Modules.Parameter[][] _parameters;
    private readonly Tensor[][] _buffers;
    private readonly Worker[] _workers;
    private readonly Tensor?[] _outputs;
    private readonly int _callerThreads;
    private bool _stale = true, _trained, _disposed;

    /// <summary>Makes <paramref name="count"/> - 1 copies of <paramref name="primary"/> with <paramref name="create"/> (libtorch's global generator is left as it was).</summary>
    public ThreadReplicas(nn.Module<Tensor, Tensor> primary, Func<nn.Module<Tensor, Tensor>> create, int count)
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, "Replicas need at least two copies.");
        _callerThreads = torch.get_num_threads();
        var copies = new List<nn.Module<Tensor, Tensor>> { primary };
        var state = torch.get_rng_state();
        try
        {
            for (int r = 1; r < count; r++) copies.Add(create());
            _copies = [.. copies];
            _parameters = _copies.Select(c => c.parameters().ToArray()).ToArray();
            _buffers = _copies.Select(c => c.buffers().ToArray()).ToArray();
            for (int r = 1; r < count; r++)
            {
                if (_parameters[r].Length != _parameters[0].Length || _buffers[r].Length != _buffers[0].Length
                    || !_parameters[r].Zip(_parameters[0]).All(p => p.First.shape.SequenceEqual(p.Second.shape)))
                    throw new ArgumentException("The replica factory made a network of another shape than the primary.", nameof(create));
                // Frozen parts stay frozen in every copy (their gradients would be summed otherwise).
                foreach (var (copy, original) in _parameters[r].Zip(_parameters[0])) copy.requires_grad = original.requires_grad;
            }
        }
        catch
        {
            foreach (var copy in copies.Skip(1)) copy.Dispose();
            throw;
        }
        finally
        {
            torch.set_rng_state(state);
            state.Dispose();
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
        if (!Splits(images.shape[0], Count))
            throw new ArgumentException($"A batch of {images.shape[0]} does not split into {Count} equal pieces of 2 or more images (BatchNorm needs 2).", nameof(images));
        ReleaseOutputs();
        Synchronise();
        var pieces = images.chunk(Count);
        bool training = MirrorMode();
        foreach (var copy in _copies.Skip(1)) copy.zero_grad();
        // Only a training pass moves the copies' BatchNorm statistics apart.
        _trained |= training;
        Run(Count, r => _outputs[r] = Call(r, pieces[r]));
        using (torch.no_grad())
            return torch.cat(_outputs.Select(o => o!.detach()).ToArray()).requires_grad_(true);
    }

    /// <summary>
    /// The network over <paramref name="images"/> without gradient, one piece per copy, in parallel. For a network that
    /// does not change between calls (a frozen teacher, in evaluation mode): its state is copied once, and again only
    /// after <see cref="Invalidate"/>.
    /// </summary>
    public Tensor Infer(Tensor images)
    {
        if (_stale) Synchronise();
        MirrorMode();
        // A last batch smaller than the copies leaves some idle.
        var pieces = images.chunk(Count);
        var outputs = new Tensor?[pieces.Length];
        try
        {
            Run(pieces.Length, r =>
            {
                // Per thread, as libtorch's gradient mode is.
                using var noGrad = torch.no_grad();
                outputs[r] = Call(r, pieces[r]);
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
    /// through every copy in parallel and sums the copies' gradients into the primary's. False, with only the copies'
    /// graphs released, when it has no gradient (the loss was not finite and never backpropagated).
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
                    // A rooted alpha: add_(source) makes a temporary one whose finalizer may free it while libtorch still reads it
                    // (seen once: "Expected false to be true" from Scalar::toFloat in add_).
                    target.add_(source, RootedScalars.One);
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
    /// Brings the copies in step with the primary: its weights everywhere and, after a training pass, the BatchNorm
    /// running statistics averaged over the copies (at the start and after <see cref="Invalidate"/>, the primary's
    /// everywhere). Call before saving the primary; <see cref="Forward"/> calls it itself.
    /// </summary>
    public void Synchronise()
    {
        using var noGrad = torch.no_grad();
        for (int i = 0; i < _parameters[0].Length; i++)
            for (int r = 1; r < Count; r++) _parameters[r][i].copy_(_parameters[0][i]);
        // Averaging equal values again is not always exact in float32 (3 copies: (a + a + a) / 3), so only statistics
        // that passes have moved apart are averaged: a checkpoint's state then comes back unchanged on resume.
        bool average = _trained && !_stale;
        using Scalar count = Count.ToScalar(); // kept alive through the calls (see Backward)
        for (int i = 0; i < _buffers[0].Length; i++)
        {
            var primary = _buffers[0][i];
            if (average && primary.is_floating_point())
            {
                for (int r = 1; r < Count; r++) primary.add_(_buffers[r][i], RootedScalars.One);
                primary.div_(count);
            }
            for (int r = 1; r < Count; r++) _buffers[r][i].copy_(primary);
        }
        _stale = _trained = false;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ReleaseOutputs();
        foreach (var worker in _workers) worker.Dispose();
        foreach (var copy in _copies.Skip(1)) copy.Dispose();
        // Restores the caller's thread count (and libtorch's default for threads started later, which the workers set).
        torch.set_num_threads(_callerThreads);
    }

    /// <summary>Whether <paramref name="images"/> split into <paramref name="copies"/> equal pieces of at least 2 (training BatchNorm needs 2).</summary>
    public static bool Splits(long images, int copies) => images % copies == 0 && images / copies >= 2;

    /// <summary>Copy <paramref name="r"/> over <paramref name="piece"/> on the calling worker, its output kept past the worker's scope.</summary>
    private Tensor Call(int r, Tensor piece)
    {
        using var scope = torch.NewDisposeScope();
        return _copies[r].call(ChannelsLast.From(piece)).DetachFromDisposeScope();
    }

    /// <summary>Puts every copy in the primary's mode (training or evaluation); returns whether it is training.</summary>
    private bool MirrorMode()
    {
        bool training = _copies[0].training;
        foreach (var copy in _copies.Skip(1))
            if (copy.training != training)
            {
                if (training) copy.train(); else copy.eval();
            }
        return training;
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
