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
    public TrainingResult Run(bool resume = false, bool force = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default)
    {
        Preflight();
        return new TrainingHost(Folder, _config).Run(() => new UncertaintyTask(_config), resume, force, progress, cancellation);
    }

    /// <summary>The cheap checks (model kind, P x K against the data's labels), before the run folder is touched.</summary>
    private void Preflight()
    {
        var info = FaceForge.Models.ModelFile.ReadInfo(_config.Model!);
        if (info.Kind != FaceForge.Models.ModelInfo.RecognitionKind)
            throw new ArgumentException($"{_config.Model}: '{info.Architecture}' is a {info.Kind} model; an uncertainty head needs a recognition model.");
        using var dataset = FaceForge.Data.FaceDataset.Open(_config.Data!);
        try
        {
            _ = new FaceForge.Input.IdentityBatchSampler(dataset, _config.IdentitiesPerBatch, _config.ImagesPerIdentity, _config.Seed);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{_config.Data}: {e.Message} (config keys identities_per_batch, images_per_identity)", e);
        }
    }
}
