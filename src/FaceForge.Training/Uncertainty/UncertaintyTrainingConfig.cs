using FaceForge.Configuration;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Uncertainty;

/// <summary>
/// A Probabilistic Face Embeddings run: an uncertainty head trained on a frozen recognition model with the mutual
/// likelihood loss over P identities x K images per batch. JSON with snake_case keys, overridden from the command line.
/// </summary>
public sealed record UncertaintyTrainingConfig : IRunSettings
{
#pragma warning disable CS1591 // each setting is documented by its [Setting] description, the one text --help shows

    [Setting("Recognition model whose backbone stays frozen (its embeddings are the means).", IsPath = true)]
    public string? Model { get; init; }

    [Setting("Dataset: image folder or RecordIO prefix, crops at the model's input size and template.", IsPath = true, IsIdentityFolders = true)]
    public string? Data { get; init; }

    [Setting("Identities per batch (P).")]
    public int IdentitiesPerBatch { get; init; } = 128;

    [Setting("Images per identity in a batch (K); every genuine pair among them is counted once. PFE's paper uses 4; 2 keeps every identity with two images, which matters on small sets.")]
    public int ImagesPerIdentity { get; init; } = 2;

    [Setting("Learning rate (SGD with momentum; linear decay to zero).", Option = "--lr")]
    public double LearningRate { get; init; } = 1e-3;

    [Setting("SGD momentum.")]
    public double Momentum { get; init; } = 0.9;

    [Setting("Weight decay on the head's weight matrices.")]
    public double WeightDecay { get; init; } = 5e-4;

    [Setting("Epochs (an epoch visits every identity with K images once). Few: on LFW's training split the head overfits within a few hundred steps (mutual likelihood then falls below cosine on held-out identities).")]
    public int Epochs { get; init; } = 20;

    [Setting("Stop after this many steps if positive.")]
    public int MaxSteps { get; init; }

    [Setting("Stop after this many seconds if positive.")]
    public double MaxSeconds { get; init; }

    [Setting("Also train on mirrored crops (the backbone's features of both are cached).")]
    public bool Flip { get; init; } = true;

    [Setting("Probability that a sample is one of its image's degraded variants (Gaussian blur, down-and-up rescale, JPEG or darkening, mild to heavy) instead of the clean crop: the head then learns the uncertainty of faces worse than the training set's.")]
    public double DegradeProbability { get; init; }

    [Setting("Degraded variants per image when degrade_probability is positive (each a fixed draw, so its features are cached like the clean crop's).")]
    public int DegradedVariants { get; init; } = 8;

    [Setting("Memory for cached backbone features in MiB: the frozen backbone's output never changes, so each crop runs through it once while the cache has room.")]
    public int CacheMegabytes { get; init; } = 4096;

    [Setting("Checkpoint every N steps (0: only at the end).")]
    public int CheckpointEvery { get; init; }

    [Setting("Log a metrics line every N steps.")]
    public int LogEvery { get; init; } = 10;

    [Setting("Consecutive non-finite losses tolerated (each skipped) before training stops.")]
    public int MaxBadSteps { get; init; } = 5;

    [Setting("Seed of the head's initialisation and of the sampling.")]
    public int Seed { get; init; }

#pragma warning restore CS1591

    /// <summary>Reads a config file; unknown or repeated keys and bad values fail with the file and key named.</summary>
    public static UncertaintyTrainingConfig Load(string path) => SettingsJson.Load<UncertaintyTrainingConfig>(path);

    /// <summary>The config as JSON.</summary>
    public string ToJson() => SettingsJson.Write(this);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the key.</summary>
    public void Validate()
    {
        void Require(bool ok, string key, string rule) { if (!ok) throw new ArgumentException($"Config '{key}' {rule}."); }
        Require(!string.IsNullOrWhiteSpace(Model), "model", "is required");
        Require(!string.IsNullOrWhiteSpace(Data), "data", "is required");
        Require(DegradeProbability is >= 0 and <= 1, "degrade_probability", $"must be in [0, 1] (got {DegradeProbability})");
        Require(DegradedVariants >= 1, "degraded_variants", $"must be at least 1 (got {DegradedVariants})");
        Require(IdentitiesPerBatch >= 1, "identities_per_batch", $"must be at least 1 (got {IdentitiesPerBatch})");
        Require(ImagesPerIdentity >= 2, "images_per_identity", $"must be at least 2 to form genuine pairs (got {ImagesPerIdentity})");
        Require((long)IdentitiesPerBatch * ImagesPerIdentity <= 65536, "identities_per_batch", "times images_per_identity must be at most 65536");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", $"must be positive (got {LearningRate})");
        Require(Momentum is >= 0 and < 1, "momentum", $"must be in [0, 1) (got {Momentum})");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight_decay", $"must be non-negative (got {WeightDecay})");
        Require(Epochs > 0, "epochs", $"must be positive (got {Epochs})");
        Require(MaxSteps >= 0, "max_steps", $"must be non-negative, 0 for no limit (got {MaxSteps})");
        Require(MaxSeconds >= 0 && double.IsFinite(MaxSeconds), "max_seconds", $"must be non-negative, 0 for no limit (got {MaxSeconds})");
        Require(CacheMegabytes >= 0, "cache_megabytes", $"must be non-negative (got {CacheMegabytes})");
        Require(CheckpointEvery >= 0, "checkpoint_every", $"must be non-negative (got {CheckpointEvery})");
        Require(LogEvery > 0, "log_every", $"must be positive (got {LogEvery})");
        Require(MaxBadSteps > 0, "max_bad_steps", $"must be positive (got {MaxBadSteps})");
    }
}
