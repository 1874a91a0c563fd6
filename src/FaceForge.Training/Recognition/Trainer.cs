using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distributed;
using FaceForge.Training.Heads;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Recognition;

/// <summary>
/// Trains a backbone with a margin-softmax classifier (full, or Partial FC when sampling, sharding or fp16 centres
/// are asked for) on the <see cref="TrainingHost"/>: the run folder's layout and rules are <see cref="RunFolder"/>'s,
/// the step is <see cref="RecognitionTask"/>'s.
/// </summary>
/// <remarks>
/// One run per instance, on the calling thread. With a communicator of several processes (MPI), each process
/// loads its slice of every batch, holds its class shards (Partial FC across processes) and sums the backbone
/// gradients with the others; process 0 writes the run folder, and each process checkpoints its own shards.
/// </remarks>
public sealed class Trainer
{
    private readonly TrainingConfig _config;
    private readonly RunFolder _folder;
    private readonly ICommunicator _world;

    /// <summary>Prepares a run of <paramref name="config"/> in <paramref name="runDirectory"/>, alone or as one process of <paramref name="communicator"/>'s world.</summary>
    public Trainer(TrainingConfig config, string runDirectory, ICommunicator? communicator = null)
    {
        config.Validate();
        _config = config.Resolved();
        _world = communicator ?? new SingleProcessCommunicator();
        _folder = new RunFolder(runDirectory, _world.Rank);
        if (config.BatchSize % _world.Size != 0)
            throw new ArgumentException($"Config 'batch_size' {config.BatchSize} must be divisible by the {_world.Size} processes (it is the global batch).");
    }

    /// <summary>The run folder.</summary>
    public RunFolder Folder => _folder;

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) training.</summary>
    /// <exception cref="RunFolderConflictException">The folder holds a finished or started run and neither resume nor force was asked.</exception>
    public TrainingResult Run(bool resume = false, bool force = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default) =>
        new TrainingHost(_folder, _config, _world).Run(
            () => _config.Classifier == ClassifierKind.Ffc ? new FfcTask(_config, _world) : new RecognitionTask(_config, _world), resume, force, progress, cancellation);

    /// <summary>The newest checkpoint of this process, or null.</summary>
    public string? LatestCheckpoint() => _folder.LatestCheckpoint();

    /// <summary>The model description a config trains.</summary>
    public static ModelInfo ModelInfoFor(TrainingConfig config)
    {
        var info = BackboneCatalog.Defaults(config.Arch);
        if (config.EmbeddingSize > 0) info = info with { EmbeddingSize = config.EmbeddingSize };
        // MagFace makes the feature magnitude a quality score; other heads leave it meaningless.
        if (config.Head == HeadKind.MagFace) info = info with { Quality = QualityKind.Magnitude };
        return config.Width == 1 ? info : info with { Options = new() { ["width"] = config.Width } };
    }

    /// <summary>The margin head a config asks for.</summary>
    public static MarginHead CreateHead(TrainingConfig config) => (config = config.Resolved()).Head switch
    {
        HeadKind.ArcFace => CombinedMarginHead.ArcFace(config.Margin > 0 ? config.Margin : 0.5, config.Scale, config.StraightThrough),
        HeadKind.CosFace => CombinedMarginHead.CosFace(config.Margin > 0 ? config.Margin : 0.35, config.Scale),
        HeadKind.MagFace => new MagFaceHead(config.Scale, config.MagFaceLowerMagnitude, config.MagFaceUpperMagnitude, config.MagFaceLowerMargin, config.MagFaceUpperMargin, config.MagFaceLambda),
        HeadKind.CurricularFace => new CurricularFaceHead(config.Margin > 0 ? config.Margin : 0.5, config.Scale),
        _ => throw new ArgumentException($"Unknown head {config.Head}; known: {string.Join(", ", Enum.GetNames<HeadKind>())}."),
    };
}
