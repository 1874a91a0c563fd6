using static TorchSharp.torch;

namespace FaceForge.Training.Distributed;

/// <summary>Reductions across processes.</summary>
public enum ReduceOperation
{
    /// <summary>Element-wise sum.</summary>
    Sum,
    /// <summary>Element-wise maximum.</summary>
    Max,
}

/// <summary>
/// Collectives among the processes of a distributed run (one rank per process). Shards inside one process are
/// reduced by the classifier itself; a communicator only crosses process boundaries.
/// </summary>
/// <remarks>Every rank must call the same collectives in the same order with tensors of the same shape.</remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0-based.</summary>
    int Rank { get; }

    /// <summary>Number of processes.</summary>
    int Size { get; }

    /// <summary>Concatenates every rank's <paramref name="local"/> along dimension 0, in rank order.</summary>
    Tensor AllGather(Tensor local);

    /// <summary>Reduces <paramref name="tensor"/> across ranks in place.</summary>
    void AllReduce(Tensor tensor, ReduceOperation operation);

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="tensor"/> into every rank's, in place.</summary>
    void Broadcast(Tensor tensor, int root = 0);
}

/// <summary>The communicator of a single-process run: every collective is the identity.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public Tensor AllGather(Tensor local) => local.alias();

    /// <inheritdoc/>
    public void AllReduce(Tensor tensor, ReduceOperation operation) { }

    /// <inheritdoc/>
    public void Broadcast(Tensor tensor, int root = 0) { }

    /// <inheritdoc/>
    public void Dispose() { }
}
