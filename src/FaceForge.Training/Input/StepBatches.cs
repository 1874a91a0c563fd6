using FaceForge.Input;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Input;

/// <summary>
/// The batch of the step the training host asks for: one epoch's enumeration stays open while steps follow each
/// other, and the loader restarts at the asked position otherwise (the first step, a resume, a new epoch).
/// </summary>
/// <remarks>One thread; dispose to stop the loader's workers.</remarks>
internal sealed class StepBatches(BatchLoader loader) : IDisposable
{
    private IEnumerator<Batch>? _batches;
    private (int Epoch, int Index) _next = (-1, -1);

    /// <summary>The step's batch (the caller disposes it), or null when loading was cancelled before it came.</summary>
    public Batch? Next(StepContext context)
    {
        if (_next != (context.Epoch, context.IndexInEpoch))
        {
            _batches?.Dispose();
            _batches = loader.Epoch(context.Epoch, context.IndexInEpoch, context.Cancellation).GetEnumerator();
        }
        if (!_batches!.MoveNext())
        {
            _next = (-1, -1);
            return null;
        }
        _next = context.IndexInEpoch + 1 < loader.BatchesPerEpoch ? (context.Epoch, context.IndexInEpoch + 1) : (-1, -1);
        return _batches.Current;
    }

    public void Dispose() => _batches?.Dispose();
}
