using System.Text.Json.Serialization;
using FaceForge.Configuration;
using FaceForge.Input;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;

namespace FaceForge.Training.Distillation;

/// <summary>
/// A distillation run (VarGFaceNet's recipe): a student backbone trained with a margin loss plus weight x the squared
/// distance between its unit-length embedding and a frozen teacher's, over one or more generations. JSON with
/// snake_case keys, overridden from the command line.
/// </summary>
public sealed record DistillationConfig : IRunSettings
{
#pragma warning disable CS1591 // each setting is documented by its [Setting] description, the one text --help shows

    [Setting("Teacher: a FaceForge recognition model; it runs without gradient on crops of its own template and normalisation.", IsPath = true)]
    public string? Teacher { get; init; }

    [Setting("Student backbone name.", Option = "--student")]
    public string Student { get; init; } = "vargfacenet";

    [Setting("Student width multiplier.")]
    public double Width { get; init; } = 1;

    [Setting("Student embedding length; 0 takes the teacher's, so the two embeddings compare directly. Another length trains a linear projection to the teacher's length, used only in training.")]
    public int EmbeddingSize { get; init; }

    [Setting("Dataset: an image folder (identity sub-folders) of photos aligned by --landmarks, or of crops the student and the teacher both take as they are.", IsPath = true, IsIdentityFolders = true)]
    public string? Data { get; init; }

    [Setting("Landmarks file (relative path x1 y1 … x5 y5) of every image in --data: each sample is aligned twice from the same points, to the student's template and to the teacher's.", IsPath = true)]
    public string? Landmarks { get; init; }

    [Setting("Weight of the distillation term (squared distance of unit embeddings, 2 - 2 cos); VarGFaceNet's paper uses 7.")]
    public double Weight { get; init; } = 7;

    [Setting("Generations: generation k's student initialises generation k + 1, with the same teacher; each is a run folder RUN/gen-K.")]
    public int Generations { get; init; } = 1;

    [Setting("Model file whose weights initialise the first generation's student, or null (random).", IsPath = true)]
    public string? Init { get; init; }

    [Setting("Start the class centres at each identity's mean teacher embedding (one teacher pass over the data, unaugmented) when the student's embedding size is the teacher's, so the margin loss and the distillation term pull the same way from the first step; otherwise the centres start random.")]
    public bool TeacherCentres { get; init; } = true;

    [Setting("Margin head of the student's classification term.")]
    [JsonConverter(typeof(SettingEnumConverter<HeadKind>))]
    public HeadKind Head { get; init; } = HeadKind.ArcFace;

    [Setting("Logit scale s; 0 takes the head's default.")]
    public double Scale { get; init; }

    [Setting("Margin; 0 takes the head's default.")]
    public double Margin { get; init; }

    [Setting("Optimizer: Sgd (momentum) or AdamW (decoupled weight decay; pass e.g. --lr 0.002 --weight-decay 0.05).")]
    [JsonConverter(typeof(SettingEnumConverter<OptimizerKind>))]
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    [Setting("Peak learning rate (warmup then polynomial decay).", Option = "--lr")]
    public double LearningRate { get; init; } = 0.1;

    [Setting("SGD momentum.")]
    public double Momentum { get; init; } = 0.9;

    [Setting("Weight decay on weights (never on BN parameters or biases).")]
    public double WeightDecay { get; init; } = 5e-4;

    [Setting("Linear warmup length in epochs (may be fractional).")]
    public double WarmupEpochs { get; init; } = 1;

    [Setting("Epochs per generation.")]
    public int Epochs { get; init; } = 20;

    [Setting("Stop each generation after this many steps if positive.")]
    public int MaxSteps { get; init; }

    [Setting("Stop each generation after this many seconds if positive.")]
    public double MaxSeconds { get; init; }

    [Setting("Batch size.")]
    public int BatchSize { get; init; } = 64;

    [Setting("Copies of the student (and of the teacher) that each run one piece of every batch on a thread of their own with one libtorch thread, as train's replicas; 1 is off.")]
    public int Replicas { get; init; } = 1;

    [Setting("Input-pipeline workers.")]
    public int Workers { get; init; } = 2;

    [Setting("Norm clip over the student's gradients; 0 disables.")]
    public double GradientClip { get; init; } = 5;

    [Setting("Probability of a horizontal flip (one draw per sample, shared by both crops).")]
    public double FlipProbability { get; init; } = 0.5;

    [Setting("Random similarity move of the landmarks before both crops are aligned (scale e^u, rotation u rad, shift u eye distances, |u| <= j); needs --landmarks.")]
    public double AlignmentJitter { get; init; }

    [Setting("Probability of brightness, contrast and saturation jitter of ±20% (shared by both crops).")]
    public double ColorJitterProbability { get; init; }

    [Setting("Probability that a sample is blended with another photo of its batch, lambda ~ U(0, 1), the same blend in both crops (mixup for distillation: the student matches the teacher between the training photos too); a blend has no identity, so only the distillation term sees it.")]
    public double MixupProbability { get; init; }

    [Setting("First generation that blends (mixup_probability); the ones before train without blends. On LFW, blends from the first generation trailed the plain recipe by 1.1-1.3 points in generations 1-2 and led it after six plain ones (docs/distillation.md, \"Mixup\").")]
    public int MixupFromGeneration { get; init; } = 1;

    [Setting("Consecutive non-finite losses tolerated (each skipped) before training stops.")]
    public int MaxBadSteps { get; init; } = 5;

    [Setting("Checkpoint every N steps (0: only at the end of a generation).")]
    public int CheckpointEvery { get; init; } = 200;

    [Setting("Log a metrics line every N steps.")]
    public int LogEvery { get; init; } = 20;

    [Setting("Seed of initialisation, order and augmentation (generation k uses seed + k - 1).")]
    public int Seed { get; init; }

#pragma warning restore CS1591

    /// <summary>Reads a config file; unknown or repeated keys and bad values fail with the file and key named.</summary>
    public static DistillationConfig Load(string path) => SettingsJson.Load<DistillationConfig>(path);

    /// <summary>The config as JSON.</summary>
    public string ToJson() => SettingsJson.Write(this);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the key.</summary>
    public void Validate()
    {
        void Require(bool ok, string key, string rule) { if (!ok) throw new ArgumentException($"Config '{key}' {rule}."); }
        Require(!string.IsNullOrWhiteSpace(Teacher), "teacher", "is required");
        Require(Weight >= 0 && double.IsFinite(Weight), "weight", $"must be non-negative (got {Weight})");
        Require(Generations >= 1, "generations", $"must be at least 1 (got {Generations})");
        Require(Generations <= 100, "generations", $"must be at most 100 (got {Generations})");
        Require(AlignmentJitter == 0 || !string.IsNullOrWhiteSpace(Landmarks), "alignment_jitter", "moves landmarks: it needs landmarks");
        foreach (var (key, p) in new[] { ("flip_probability", FlipProbability), ("alignment_jitter", AlignmentJitter), ("color_jitter_probability", ColorJitterProbability), ("mixup_probability", MixupProbability) })
            Require(p is >= 0 and <= 1, key, $"must be in [0, 1] (got {p})");
        // Blends reach the distillation term only: without it they would just remove samples from the margin loss.
        Require(MixupProbability == 0 || Weight > 0, "mixup_probability", $"blends samples for the distillation term only: it needs 'weight' above 0 (got mixup {MixupProbability} with weight 0)");
        Require(MixupFromGeneration >= 1, "mixup_from_generation", $"must be at least 1 (got {MixupFromGeneration})");
        Require(MixupProbability == 0 || MixupFromGeneration <= Generations, "mixup_from_generation",
            $"is past the last generation ({Generations}): no generation would blend (got {MixupFromGeneration})");
        StudentConfig().Validate();
    }

    /// <summary>The augmentation both crops share.</summary>
    internal AugmentationOptions Augmentation => new() { FlipProbability = FlipProbability, AlignmentJitter = AlignmentJitter, ColorJitterProbability = ColorJitterProbability };

    /// <summary>
    /// The student's side as a recognition config (same keys), which builds its head, optimizer and schedule and
    /// validates the settings the two share.
    /// </summary>
    internal TrainingConfig StudentConfig() => new()
    {
        Data = Data ?? "", Arch = Student, Width = Width, EmbeddingSize = EmbeddingSize, Head = Head, Scale = Scale, Margin = Margin,
        Optimizer = Optimizer, LearningRate = LearningRate, Momentum = Momentum, WeightDecay = WeightDecay, WarmupEpochs = WarmupEpochs, Epochs = Epochs,
        MaxSteps = MaxSteps, MaxSeconds = MaxSeconds, BatchSize = BatchSize, Replicas = Replicas, Workers = Workers, GradientClip = GradientClip,
        MaxBadSteps = MaxBadSteps, CheckpointEvery = CheckpointEvery, LogEvery = LogEvery, Seed = Seed, Init = Init,
    };
}
