using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>
/// One contiguous range of class centres [Start, Start + Count) with its momentum, in the chosen storage type, and
/// the step at which each row was last updated (for <see cref="CentreMomentum.CatchUp"/>). Nothing else is kept per class.
/// </summary>
public sealed class ClassShard : IDisposable
{
    internal ClassShard(long start, long count, Tensor centres, Tensor momentum)
    {
        Start = start;
        Count = count;
        Centres = centres;
        Momentum = momentum;
        Updated = torch.full(count, RootedScalars.MinusOne, dtype: ScalarType.Int64).DetachFromDisposeScope();
    }

    /// <summary>First class of the shard.</summary>
    public long Start { get; }

    /// <summary>Number of classes.</summary>
    public long Count { get; }

    /// <summary>Count x d centres (float32 or float16).</summary>
    public Tensor Centres { get; }

    /// <summary>Count x d momentum, same type as the centres; rows change only when sampled.</summary>
    public Tensor Momentum { get; }

    /// <summary>Per row, the step whose update it last received (-1: none yet).</summary>
    public Tensor Updated { get; }

    /// <summary>The class ranges of <paramref name="shards"/> shards over <paramref name="classes"/> classes: C / k each, the first C mod k one more.</summary>
    public static (long Start, long Count)[] Ranges(long classes, int shards)
    {
        var ranges = new (long, long)[shards];
        long start = 0;
        for (int i = 0; i < shards; i++)
        {
            long count = classes / shards + (i < classes % shards ? 1 : 0);
            ranges[i] = (start, count);
            start += count;
        }
        return ranges;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Centres.Dispose();
        Momentum.Dispose();
        Updated.Dispose();
    }
}
