using FaceForge.Training.Hosting;

namespace FaceForge.Tests;

/// <summary>Cancels a training run once it reports step <paramref name="step"/>, as Ctrl+C would.</summary>
internal sealed class CancelAt(int step, CancellationTokenSource source) : IProgress<TrainingStatus>
{
    public void Report(TrainingStatus value) { if (value.Step >= step) source.Cancel(); }
}
