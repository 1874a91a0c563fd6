using System.Text.Json.Serialization;
using FaceForge.Configuration;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Detection;

/// <summary>
/// A detector training run (<see cref="DetectorTrainer"/>): JSON with snake_case keys, overridden from the command
/// line, which binds every <see cref="SettingAttribute"/> property.
/// </summary>
public sealed record DetectorTrainingConfig : IRunSettings
{
#pragma warning disable CS1591 // each setting is documented by its [Setting] description, the one text --help shows
    [Setting("RetinaFace/WIDER label.txt, or a folder holding one (as data synth --scenes writes).", IsPath = true)]
    public string Data { get; init; } = "";

    [Setting("Folder the label paths are relative to; empty: the label file's folder.", IsPath = true)]
    public string? Images { get; init; }

    [Setting("Occlusion masks folder; empty: masks/ beside label.txt when it exists, else no segmentation loss.", IsPath = true)]
    public string? Masks { get; init; }

    [Setting("Detector architecture: retinaface-mnet025 or aofd-mnet025.")]
    public string Arch { get; init; } = DetectorCatalog.OcclusionAware;

    [Setting("Train without the adversarial mask generator (the baseline); only aofd-mnet025 trains against it.")]
    public bool Plain { get; init; }

    [Setting("Detector model file to start from (a RetinaFace import initialises an AOFD model's detector part).", IsPath = true)]
    public string? Init { get; init; }

    [Setting("Training input width in pixels.")]
    public int InputWidth { get; init; } = 320;

    [Setting("Training input height in pixels.")]
    public int InputHeight { get; init; } = 240;

    [Setting("Images per step.")]
    public int BatchSize { get; init; } = 16;

    [Setting("Epochs.")]
    public int Epochs { get; init; } = 10;

    [Setting("Stop after this many steps if positive.")]
    public int MaxSteps { get; init; }

    [Setting("Stop after this many seconds if positive.")]
    public double MaxSeconds { get; init; }

    [Setting("SGD learning rate of the detector.", Option = "--lr")]
    public double LearningRate { get; init; } = 1e-3;

    [Setting("SGD momentum of the detector.")]
    public double Momentum { get; init; } = 0.9;

    [Setting("Weight decay of the detector.")]
    public double WeightDecay { get; init; } = 5e-4;

    [Setting("Fraction of the steps after which the learning rate drops.")]
    public double LrDropAt { get; init; } = 0.8;

    [Setting("Factor of that drop.")]
    public double LrDropFactor { get; init; } = 0.1;

    [Setting("Norm clip over the detector's gradients; 0 disables.")]
    public double GradientClip { get; init; } = 10;

    [Setting("Weight of the occlusion-segmentation loss.")]
    public double SegmentationWeight { get; init; } = 1;

    [Setting("Adam learning rate of the segmentation branch (it starts from scratch).")]
    public double SegmentationLearningRate { get; init; } = 1e-3;

    [Setting("Adam learning rate of the adversarial mask generator.")]
    public double GeneratorLearningRate { get; init; } = 1e-3;

    [Setting("Entropy bonus of the generator's policy (keeps it exploring).")]
    public double GeneratorEntropy { get; init; } = 0.01;

    [Setting("Momentum of the running reward baseline of the generator's policy gradient.")]
    public double RewardBaselineMomentum { get; init; } = 0.9;

    [Setting("Weight of the teacher consistency: on faces with no occluder, the detector's raw box, landmark and face log-odds outputs are held to those of the init model (frozen) on the same input, and each face's best anchor (the init model's) is kept ahead of its others, so fine-tuning for occlusion does not move clean faces' landmarks; 0 disables.")]
    public double TeacherWeight { get; init; }

    [Setting("Weight of the background hold: on anchors away from every face, the detector's face log-odds are penalised for rising above those of the init model (frozen) on the same input. Fewer false faces on backgrounds the training set lacks, at the price of recall under occlusion (docs/occlusion.md); 0 disables.")]
    public double BackgroundHoldWeight { get; init; }

    [Setting("Detector parts fine-tuned: all; context (FPN, SSH and heads; the MobileNet body frozen); score-heads (only the face/background heads: boxes and landmarks stay the init model's); score-box-heads (the face/background and box heads: landmarks stay the init model's, boxes learn whole faces under occluders).")]
    public string Trainable { get; init; } = "all";

    [Setting("Keep batch norm statistics and affine weights of the detector as initialised (batch norm in inference mode while fine-tuning).")]
    public bool FreezeBatchNorm { get; init; }

    [Setting("Consecutive non-finite losses tolerated (each skipped) before training stops.")]
    public int MaxBadSteps { get; init; } = 5;

    [Setting("Checkpoint every N steps (0: only at the end).")]
    public int CheckpointEvery { get; init; } = 500;

    [Setting("Log a metrics line every N steps.")]
    public int LogEvery { get; init; } = 1;

    [Setting("Seed of order, flips, mask sampling and initialisation.")]
    public int Seed { get; init; }
#pragma warning restore CS1591

    /// <summary>Whether this run trains against the adversarial mask generator (the occlusion-aware architecture, not plain).</summary>
    [JsonIgnore]
    public bool Adversarial => !Plain && IsOcclusionAware;

    /// <summary>Whether the architecture has the occlusion-segmentation branch.</summary>
    [JsonIgnore]
    public bool IsOcclusionAware => Arch.Equals(DetectorCatalog.OcclusionAware, StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads a config file; unknown or repeated keys and bad values fail with the file and key named.</summary>
    public static DetectorTrainingConfig Load(string path) => SettingsJson.Load<DetectorTrainingConfig>(path);

    /// <summary>The config as JSON.</summary>
    public string ToJson() => SettingsJson.Write(this);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the key.</summary>
    public void Validate()
    {
        void Require(bool ok, string key, string rule) { if (!ok) throw new ArgumentException($"Config '{key}' {rule}."); }
        Require(!string.IsNullOrWhiteSpace(Data), "data", "is required");
        Require(DetectorCatalog.IsDetector(Arch), "arch", $"must be one of {string.Join(", ", DetectorCatalog.Names)} (got '{Arch}')");
        Require(BatchSize >= 1, "batch_size", $"must be at least 1 (got {BatchSize})");
        Require(InputWidth is >= 32 and <= 4096 && InputHeight is >= 32 and <= 4096, "input_width", $"and input_height must be in [32, 4096] (got {InputWidth}x{InputHeight})");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", $"must be positive (got {LearningRate})");
        Require(Momentum is >= 0 and < 1, "momentum", $"must be in [0, 1) (got {Momentum})");
        Require(WeightDecay >= 0, "weight_decay", $"must be non-negative (got {WeightDecay})");
        Require(LrDropAt is > 0 and <= 1, "lr_drop_at", $"must be in (0, 1] (got {LrDropAt})");
        Require(LrDropFactor is > 0 and <= 1, "lr_drop_factor", $"must be in (0, 1] (got {LrDropFactor})");
        Require(GradientClip >= 0, "gradient_clip", $"must be non-negative (got {GradientClip})");
        Require(SegmentationWeight >= 0, "segmentation_weight", $"must be non-negative (got {SegmentationWeight})");
        Require(SegmentationLearningRate > 0, "segmentation_learning_rate", $"must be positive (got {SegmentationLearningRate})");
        Require(GeneratorLearningRate > 0, "generator_learning_rate", $"must be positive (got {GeneratorLearningRate})");
        Require(GeneratorEntropy >= 0, "generator_entropy", $"must be non-negative (got {GeneratorEntropy})");
        Require(RewardBaselineMomentum is >= 0 and < 1, "reward_baseline_momentum", $"must be in [0, 1) (got {RewardBaselineMomentum})");
        Require(Epochs >= 1, "epochs", $"must be at least 1 (got {Epochs})");
        Require(MaxSteps >= 0, "max_steps", $"must be non-negative, 0 for no limit (got {MaxSteps})");
        Require(MaxSeconds >= 0 && double.IsFinite(MaxSeconds), "max_seconds", $"must be non-negative, 0 for no limit (got {MaxSeconds})");
        Require(Trainable is "all" or "context" or "score-heads" or "score-box-heads", "trainable", $"must be all, context, score-heads or score-box-heads (got '{Trainable}')");
        Require(Trainable == "all" || !string.IsNullOrWhiteSpace(Init), "trainable", "other than all needs init: frozen parts keep the init model's weights");
        Require(TeacherWeight >= 0 && double.IsFinite(TeacherWeight), "teacher_weight", $"must be non-negative (got {TeacherWeight})");
        Require(TeacherWeight == 0 || !string.IsNullOrWhiteSpace(Init), "teacher_weight", "needs init: the teacher is the init model");
        Require(BackgroundHoldWeight >= 0 && double.IsFinite(BackgroundHoldWeight), "background_hold_weight", $"must be non-negative (got {BackgroundHoldWeight})");
        Require(BackgroundHoldWeight == 0 || !string.IsNullOrWhiteSpace(Init), "background_hold_weight", "needs init: the hold is to the init model");
        Require(MaxBadSteps > 0, "max_bad_steps", $"must be positive (got {MaxBadSteps})");
        Require(CheckpointEvery >= 0, "checkpoint_every", $"must be non-negative (got {CheckpointEvery})");
        Require(LogEvery > 0, "log_every", $"must be positive (got {LogEvery})");
    }
}
