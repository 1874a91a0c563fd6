using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceForge.Training.Training;

/// <summary>Margin heads the trainer builds.</summary>
public enum HeadKind
{
    /// <summary>ArcFace, additive angular margin.</summary>
    ArcFace,
    /// <summary>CosFace, additive cosine margin.</summary>
    CosFace,
    /// <summary>MagFace, magnitude-aware margin and regulariser.</summary>
    MagFace,
    /// <summary>CurricularFace, adaptive hard negatives.</summary>
    CurricularFace,
}

/// <summary>Optimizers the trainer builds.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum (arcface_torch's default).</summary>
    Sgd,
    /// <summary>AdamW.</summary>
    AdamW,
}

/// <summary>Learning-rate decay after warmup.</summary>
public enum ScheduleKind
{
    /// <summary>(1 - progress)^power to zero at the last step.</summary>
    Polynomial,
    /// <summary>Multiply by 0.1 at each milestone epoch.</summary>
    MultiStep,
}

/// <summary>
/// A training run, loaded from JSON (snake_case keys; unknown keys are errors) and overridden from the command line.
/// Derived quantities (total steps) are computed by the trainer, never written back.
/// </summary>
public sealed record TrainingConfig
{
    /// <summary>Dataset: image folder or RecordIO prefix.</summary>
    public string Data { get; init; } = "";

    /// <summary>Backbone name. <value>The default is vargfacenet.</value></summary>
    public string Arch { get; init; } = "vargfacenet";

    /// <summary>Backbone width multiplier. <value>The default is 1.</value></summary>
    public double Width { get; init; } = 1;

    /// <summary>Embedding length; 0 takes the architecture's. <value>The default is 0.</value></summary>
    public int EmbeddingSize { get; init; }

    /// <summary>Margin head. <value>The default is ArcFace.</value></summary>
    [JsonConverter(typeof(JsonStringEnumConverter<HeadKind>))]
    public HeadKind Head { get; init; } = HeadKind.ArcFace;

    /// <summary>Logit scale s. <value>The default is 64.</value></summary>
    public double Scale { get; init; } = 64;

    /// <summary>Margin: ArcFace and CurricularFace radians (0.5), CosFace cosine (0.35); 0 takes the head's default.</summary>
    public double Margin { get; init; }

    /// <summary>Apply ArcFace's margin without gradient, as arcface_torch does. <value>The default is false.</value></summary>
    public bool StraightThrough { get; init; }

    /// <summary>MagFace lambda_g. <value>The default is 35.</value></summary>
    public double MagFaceLambda { get; init; } = 35;

    /// <summary>Partial FC sample rate in (0, 1]; below 1 only that fraction of centres is scored per step. <value>The default is 1.</value></summary>
    public double SampleRate { get; init; } = 1;

    /// <summary>Class-centre shards in this process (Partial FC). <value>The default is 1.</value></summary>
    public int Shards { get; init; } = 1;

    /// <summary>Storage of the class centres; Float16 uses Partial FC with half-size centres. <value>The default is Float32.</value></summary>
    [JsonConverter(typeof(JsonStringEnumConverter<Classifiers.CentreStorage>))]
    public Classifiers.CentreStorage FcDtype { get; init; } = Classifiers.CentreStorage.Float32;

    /// <summary>Partial FC: momentum of the centres a step did not sample (CatchUp: they keep moving as under full-matrix SGD; SampledOnly: the first release's behaviour). <value>The default is CatchUp.</value></summary>
    [JsonConverter(typeof(JsonStringEnumConverter<Classifiers.CentreMomentum>))]
    public Classifiers.CentreMomentum FcMomentum { get; init; } = Classifiers.CentreMomentum.CatchUp;

    /// <summary>Optimizer. <value>The default is Sgd.</value></summary>
    [JsonConverter(typeof(JsonStringEnumConverter<OptimizerKind>))]
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>Peak learning rate. <value>The default is 0.1.</value></summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>SGD momentum. <value>The default is 0.9.</value></summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Nesterov momentum. <value>The default is false.</value></summary>
    public bool Nesterov { get; init; }

    /// <summary>Weight decay on weights (never on BN parameters or biases). <value>The default is 5e-4.</value></summary>
    public double WeightDecay { get; init; } = 5e-4;

    /// <summary>LR schedule after warmup. <value>The default is Polynomial.</value></summary>
    [JsonConverter(typeof(JsonStringEnumConverter<ScheduleKind>))]
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Polynomial;

    /// <summary>Polynomial power. <value>The default is 2.</value></summary>
    public double Power { get; init; } = 2;

    /// <summary>Epochs at which MultiStep divides the LR by 10.</summary>
    public int[] Milestones { get; init; } = [];

    /// <summary>Linear warmup length in epochs (may be fractional). <value>The default is 0.</value></summary>
    public double WarmupEpochs { get; init; }

    /// <summary>Epochs. <value>The default is 20.</value></summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Stop after this many steps if positive (for short runs). <value>The default is 0.</value></summary>
    public int MaxSteps { get; init; }

    /// <summary>Stop after this many seconds if positive (the demo's time budget). <value>The default is 0.</value></summary>
    public double MaxSeconds { get; init; }

    /// <summary>Batch size. <value>The default is 64.</value></summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// Pieces the backbone processes each batch in, each normalised by its own BatchNorm statistics as on that many
    /// data-parallel processes; the classifier sees the whole batch. A one-process run with micro_batches = P
    /// reproduces a P-process MPI run. <value>The default is 1.</value>
    /// </summary>
    public int MicroBatches { get; init; } = 1;

    /// <summary>Input-pipeline workers. <value>The default is 2.</value></summary>
    public int Workers { get; init; } = 2;

    /// <summary>Norm clip over the backbone's gradients (as arcface_torch: class centres are never clipped, so the full softmax and Partial FC at rate 1 train alike); 0 disables. <value>The default is 5.</value></summary>
    public double GradientClip { get; init; } = 5;

    /// <summary>Consecutive non-finite losses tolerated (each skipped) before training stops. <value>The default is 5.</value></summary>
    public int MaxBadSteps { get; init; } = 5;

    /// <summary>Checkpoint every N steps (0: only at the end). <value>The default is 1000.</value></summary>
    public int CheckpointEvery { get; init; } = 1000;

    /// <summary>Log a metrics line every N steps. <value>The default is 20.</value></summary>
    public int LogEvery { get; init; } = 20;

    /// <summary>Seed of initialisation, order and augmentation. <value>The default is 0.</value></summary>
    public int Seed { get; init; }

    /// <summary>Skip unreadable images. <value>The default is false.</value></summary>
    public bool SkipBad { get; init; }

    /// <summary>Model file whose weights initialise the backbone (fine-tuning), or null.</summary>
    public string? Init { get; init; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    /// <summary>Reads a config file; unknown keys and bad values fail with the file and key named.</summary>
    public static TrainingConfig Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingConfig>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty config.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The config as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the key.</summary>
    public void Validate()
    {
        void Require(bool ok, string key, string rule) { if (!ok) throw new ArgumentException($"Config '{key}' {rule}."); }
        Require(!string.IsNullOrWhiteSpace(Data), "data", "is required");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", $"must be positive (got {LearningRate})");
        Require(Momentum is >= 0 and < 1, "momentum", $"must be in [0, 1) (got {Momentum})");
        Require(WeightDecay >= 0, "weight_decay", $"must be non-negative (got {WeightDecay})");
        Require(Epochs > 0, "epochs", $"must be positive (got {Epochs})");
        Require(BatchSize > 1, "batch_size", $"must be at least 2 (got {BatchSize})");
        Require(Workers > 0, "workers", $"must be positive (got {Workers})");
        Require(WarmupEpochs >= 0 && WarmupEpochs < Epochs, "warmup_epochs", $"must be in [0, epochs) (got {WarmupEpochs})");
        Require(Width > 0, "width", $"must be positive (got {Width})");
        Require(Scale > 0, "scale", $"must be positive (got {Scale})");
        Require(Margin >= 0, "margin", $"must be non-negative (got {Margin})");
        Require(GradientClip >= 0, "gradient_clip", $"must be non-negative (got {GradientClip})");
        Require(MaxBadSteps > 0, "max_bad_steps", $"must be positive (got {MaxBadSteps})");
        Require(Power > 0, "power", $"must be positive (got {Power})");
        Require(!Nesterov || Momentum > 0, "nesterov", "needs a positive momentum");
        Require(SampleRate > 0 && SampleRate <= 1, "sample_rate", $"must be in (0, 1] (got {SampleRate})");
        Require(Shards >= 1, "shards", $"must be at least 1 (got {Shards})");
        Require(MicroBatches >= 1 && BatchSize % MicroBatches == 0, "micro_batches", $"must be at least 1 and divide batch_size {BatchSize} (got {MicroBatches})");
    }
}
