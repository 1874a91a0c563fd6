using FaceForge.Training.Hosting;

namespace FaceForge.Training.Uncertainty;

/// <summary>
/// Trains a Probabilistic Face Embeddings uncertainty head on a frozen recognition model (on the
/// <see cref="TrainingHost"/>: run folder, checkpoints, resume and report as for every trainer). The run's model.ffm
/// holds the backbone unchanged plus the head, and says quality "uncertainty".
/// </summary>
/// <remarks>One run per instance, on the calling thread.</remarks>
public sealed class UncertaintyTrainer
{
    private readonly UncertaintyTrainingConfig _config;

    /// <summary>Prepares a run of <paramref name="config"/> in <paramref name="runDirectory"/>.</summary>
    public UncertaintyTrainer(UncertaintyTrainingConfig config, string runDirectory)
    {
        config.Validate();
        _config = config;
        Folder = new RunFolder(runDirectory, 0);
    }

    /// <summary>The run folder.</summary>
    public RunFolder Folder { get; }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) training.</summary>
    public TrainingResult Run(bool resume = false, bool force = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default) =>
        new TrainingHost(Folder, _config).Run(() => new UncertaintyTask(_config), resume, force, progress, cancellation);
}
