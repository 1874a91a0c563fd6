using System.Text.Json.Serialization;
using FaceForge.Configuration;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Recognition;

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

/// <summary>How identities are scored.</summary>
public enum ClassifierKind
{
    /// <summary>A class-centre matrix: the full softmax, or Partial FC with sample_rate below 1, shards or fp16 centres.</summary>
    Fc,
    /// <summary>FFC: a dynamic pool of identity features written by an EMA copy of the network; no centre matrix.</summary>
    Ffc,
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
/// A recognition training run, loaded from JSON (snake_case keys; unknown keys are errors) and overridden from the
/// command line, which binds every <see cref="SettingAttribute"/> property. Derived quantities (total steps) are
/// computed by the trainer, never written back.
/// </summary>
public sealed record TrainingConfig : IRunSettings
{
#pragma warning disable CS1591 // each setting is documented by its [Setting] description, the one text --help shows

    [Setting("Dataset: image folder or RecordIO prefix.", IsPath = true, IsIdentityFolders = true)]
    public string Data { get; init; } = "";

    [Setting("Backbone name.")]
    public string Arch { get; init; } = "vargfacenet";

    [Setting("Backbone width multiplier.")]
    public double Width { get; init; } = 1;

    [Setting("Embedding length; 0 takes the architecture's.")]
    public int EmbeddingSize { get; init; }

    [Setting("Margin head.")]
    [JsonConverter(typeof(SettingEnumConverter<HeadKind>))]
    public HeadKind Head { get; init; } = HeadKind.ArcFace;

    [Setting("Logit scale s; 0 takes the head's default: 32 for ArcFace (the demo's; on few identities 64 trains far worse), 64 for CosFace, MagFace and CurricularFace (their papers').")]
    public double Scale { get; init; }

    [Setting("Margin: ArcFace and CurricularFace radians (0.5), CosFace cosine (0.35); 0 takes the head's default.")]
    public double Margin { get; init; }

    [Setting("Apply ArcFace's margin without gradient, as arcface_torch does.")]
    public bool StraightThrough { get; init; }

    [Setting("MagFace lambda_g (fine-tuning a model whose magnitudes start low: 5, with l_a 1, u_a 51, l_m 0.45, u_m 1).")]
    public double MagFaceLambda { get; init; } = 35;

    [Setting("MagFace l_a: magnitudes below it are clamped; the margin is l_m there.")]
    public double MagFaceLowerMagnitude { get; init; } = 10;

    [Setting("MagFace u_a: magnitudes above it are clamped; the margin is u_m there and the regulariser's optimum.")]
    public double MagFaceUpperMagnitude { get; init; } = 110;

    [Setting("MagFace l_m: the margin at magnitude l_a (radians).")]
    public double MagFaceLowerMargin { get; init; } = 0.45;

    [Setting("MagFace u_m: the margin at magnitude u_a (radians).")]
    public double MagFaceUpperMargin { get; init; } = 0.8;

    [Setting("Classifier: fc (class-centre matrix, full or Partial FC) or ffc (dynamic class pool).")]
    [JsonConverter(typeof(SettingEnumConverter<ClassifierKind>))]
    public ClassifierKind Classifier { get; init; } = ClassifierKind.Fc;

    [Setting("FFC pool size Q: a count of identities (1 or more), or a fraction of the dataset's identities (below 1).")]
    public double PoolSize { get; init; } = 0.1;

    [Setting("FFC: momentum of the gallery network, g = m g + (1 - m) p each step.")]
    public double FfcMomentum { get; init; } = 0.99;

    [Setting("Partial FC sample rate in (0, 1]; below 1 only that fraction of centres is scored per step.")]
    public double SampleRate { get; init; } = 1;

    [Setting("Class-centre shards in this process (Partial FC).")]
    public int Shards { get; init; } = 1;

    [Setting("Storage of the class centres; Float16 uses Partial FC with half-size centres.")]
    [JsonConverter(typeof(SettingEnumConverter<Classifiers.CentreStorage>))]
    public Classifiers.CentreStorage FcDtype { get; init; } = Classifiers.CentreStorage.Float32;

    [Setting("Partial FC: momentum of the centres a step did not sample (CatchUp: they keep moving as under full-matrix SGD; SampledOnly: the first release's behaviour).")]
    [JsonConverter(typeof(SettingEnumConverter<Classifiers.CentreMomentum>))]
    public Classifiers.CentreMomentum FcMomentum { get; init; } = Classifiers.CentreMomentum.CatchUp;

    [Setting("Optimizer.")]
    [JsonConverter(typeof(SettingEnumConverter<OptimizerKind>))]
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    [Setting("Peak learning rate.", Option = "--lr")]
    public double LearningRate { get; init; } = 0.1;

    [Setting("SGD momentum.")]
    public double Momentum { get; init; } = 0.9;

    [Setting("Nesterov momentum.")]
    public bool Nesterov { get; init; }

    [Setting("Weight decay on weights (never on BN parameters or biases).")]
    public double WeightDecay { get; init; } = 5e-4;

    [Setting("LR schedule after warmup.")]
    [JsonConverter(typeof(SettingEnumConverter<ScheduleKind>))]
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Polynomial;

    [Setting("Polynomial power.")]
    public double Power { get; init; } = 2;

    [Setting("Epochs at which MultiStep divides the LR by 10.")]
    public int[] Milestones { get; init; } = [];

    [Setting("Linear warmup length in epochs (may be fractional).")]
    public double WarmupEpochs { get; init; }

    [Setting("Epochs.")]
    public int Epochs { get; init; } = 20;

    [Setting("Stop after this many steps if positive (for short runs).")]
    public int MaxSteps { get; init; }

    [Setting("Stop after this many seconds if positive (the demo's time budget).")]
    public double MaxSeconds { get; init; }

    [Setting("Batch size.")]
    public int BatchSize { get; init; } = 64;

    [Setting("Pieces the backbone processes each batch in, each normalised by its own BatchNorm statistics as on that many data-parallel processes; the classifier sees the whole batch. A one-process run with micro_batches = P reproduces a P-process MPI run.")]
    public int MicroBatches { get; init; } = 1;

    [Setting("Copies of the backbone that each run one piece of every batch on a thread of their own with one libtorch thread (data parallel inside the process; each piece normalised by its own BatchNorm statistics, as micro_batches). On a few cores a small network trains faster so than on libtorch's own threads; 1 is off.")]
    public int Replicas { get; init; } = 1;

    [Setting("Input-pipeline workers.")]
    public int Workers { get; init; } = 2;

    [Setting("Norm clip over the backbone's gradients (as arcface_torch: class centres are never clipped, so the full softmax and Partial FC at rate 1 train alike); 0 disables.")]
    public double GradientClip { get; init; } = 5;

    [Setting("Consecutive non-finite losses tolerated (each skipped) before training stops.")]
    public int MaxBadSteps { get; init; } = 5;

    [Setting("Checkpoint every N steps (0: only at the end).")]
    public int CheckpointEvery { get; init; } = 1000;

    [Setting("Log a metrics line every N steps.")]
    public int LogEvery { get; init; } = 20;

    [Setting("Probability of one random quality degradation per training image (Gaussian blur, down-and-up rescale, JPEG, darkening; mild to heavy), so the model meets faces worse than the training set's (docs/quality.md).")]
    public double DegradeProbability { get; init; }

    [Setting("Probability of one occluder painted over the face per training image (one of occluders, placed by the template's points; size, place and shade at random), so the model learns to rely on what stays visible (docs/occlusion.md).")]
    public double OcclusionProbability { get; init; }

    [Setting("Occluders drawn from with occlusion_probability: all, or some of mask, sunglasses, hand, scarf, half-cover.")]
    public string Occluders { get; init; } = "mask,sunglasses,hand,scarf";

    [Setting("Folder of mask images with transparency (PNG) for the mask occluder, e.g. ../shared/data/mask-overlays; needed when masks are among the occluders.", IsPath = true)]
    public string? MaskOverlays { get; init; }

    [Setting("Probability of brightness, contrast and saturation jitter of ±20% per training image.")]
    public double ColorJitterProbability { get; init; }

    [Setting("Size j of a random similarity move per training image: scale e^u, rotation u radians, shift u eye distances, u uniform in [-j, j] (0.05 is mild).")]
    public double AlignmentJitter { get; init; }

    [Setting("Seed of initialisation, order and augmentation.")]
    public int Seed { get; init; }

    [Setting("Skip unreadable images.")]
    public bool SkipBad { get; init; }

    [Setting("Model file whose weights initialise the backbone (fine-tuning), or null.", IsPath = true)]
    public string? Init { get; init; }

#pragma warning restore CS1591

    /// <summary>Reads a config file; unknown or repeated keys and bad values fail with the file and key named.</summary>
    public static TrainingConfig Load(string path) => SettingsJson.Load<TrainingConfig>(path);

    /// <summary>The config as JSON.</summary>
    public string ToJson() => SettingsJson.Write(this);

    /// <summary>
    /// This config with its "0 means the default" values made explicit (the architecture's embedding size, the head's
    /// margin and scale), as config.json records them.
    /// </summary>
    public TrainingConfig Resolved() => this with
    {
        EmbeddingSize = EmbeddingSize > 0 ? EmbeddingSize : Backbones.BackboneCatalog.Defaults(Arch).EmbeddingSize,
        Margin = Margin > 0 || Head == HeadKind.MagFace ? Margin : Head == HeadKind.CosFace ? 0.35 : 0.5,
        Scale = Scale > 0 ? Scale : DefaultScale(Head),
    };

    /// <summary>Q for a dataset of <paramref name="identities"/>: <see cref="PoolSize"/> itself, or that fraction of the identities (at least 1).</summary>
    public int PoolEntries(int identities)
    {
        int entries = PoolSize >= 1 ? (int)PoolSize : Math.Max(1, (int)Math.Round(PoolSize * identities));
        if (entries > identities)
            throw new ArgumentException($"Config 'pool_size' {entries} exceeds the {identities} identities of '{Data}': the pool holds at most one entry per identity.");
        return entries;
    }

    /// <summary>The logit scale a head gets when none is given.</summary>
    public static double DefaultScale(HeadKind head) => head == HeadKind.ArcFace ? 32 : 64;

    /// <summary>
    /// Refuses settings another choice ignores (rather than dropping them silently). For new runs only: a run saved
    /// before this check must still resume.
    /// </summary>
    /// <exception cref="ArgumentException">A setting the rest of the config ignores is given; the key is named.</exception>
    public void RequireNoIgnoredSettings()
    {
        void Require(bool ok, string key, string rule) { if (!ok) throw new ArgumentException($"Config '{key}' {rule}."); }
        Require(!Nesterov || Optimizer == OptimizerKind.Sgd, "nesterov", $"is SGD's; the optimizer is {Optimizer}");
        Require(!StraightThrough || Head == HeadKind.ArcFace, "straight_through", $"is ArcFace's margin; the head is {Head}");
        Require(Milestones.Length == 0 || Schedule == ScheduleKind.MultiStep, "milestones", "need schedule multi-step (the polynomial schedule has none)");
        Require(OcclusionProbability > 0 || Occluders == Defaults.Occluders, "occluders", "choose what occlusion_probability paints; it is 0");
        Require(OcclusionProbability > 0 || MaskOverlays is null, "mask_overlays", "are painted by occlusion_probability; it is 0");
    }

    private static readonly TrainingConfig Defaults = new();

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
        Require(Scale >= 0, "scale", $"must be positive, or 0 for the head's default (got {Scale})");
        Require(Margin >= 0, "margin", $"must be non-negative (got {Margin})");
        Require(DegradeProbability is >= 0 and <= 1, "degrade_probability", $"must be in [0, 1] (got {DegradeProbability})");
        Require(ColorJitterProbability is >= 0 and <= 1, "color_jitter_probability", $"must be in [0, 1] (got {ColorJitterProbability})");
        Require(OcclusionProbability is >= 0 and <= 1, "occlusion_probability", $"must be in [0, 1] (got {OcclusionProbability})");
        Require(Occluders is not null, "occluders", "must be a string: all, or some of mask, sunglasses, hand, scarf, half-cover");
        if (OcclusionProbability > 0)
        {
            IReadOnlyList<Occlusion.OcclusionKind> kinds = [];
            try { kinds = Occlusion.OcclusionKinds.Parse(Occluders!); }
            catch (ArgumentException e) { Require(false, "occluders", $"is not valid: {e.Message.TrimEnd('.')}"); }
            Require(!kinds.Contains(Occlusion.OcclusionKind.Mask) || !string.IsNullOrWhiteSpace(MaskOverlays), "mask_overlays",
                "is needed when masks are among the occluders (a folder of PNG masks with transparency, e.g. ../shared/data/mask-overlays; or leave masks out of occluders)");
        }
        Require(AlignmentJitter is >= 0 and <= 0.5, "alignment_jitter", $"must be in [0, 0.5] (got {AlignmentJitter})");
        Require(GradientClip >= 0, "gradient_clip", $"must be non-negative (got {GradientClip})");
        Require(MaxBadSteps > 0, "max_bad_steps", $"must be positive (got {MaxBadSteps})");
        Require(Power > 0, "power", $"must be positive (got {Power})");
        Require(!Nesterov || Momentum > 0, "nesterov", "needs a positive momentum");
        Require(SampleRate > 0 && SampleRate <= 1, "sample_rate", $"must be in (0, 1] (got {SampleRate})");
        Require(Shards >= 1, "shards", $"must be at least 1 (got {Shards})");
        Require(double.IsFinite(Width) && Width <= 16, "width", $"must be at most 16 (got {Width})");
        Require(EmbeddingSize is >= 0 and <= 65536, "embedding_size", $"must be positive, or 0 for the architecture's (got {EmbeddingSize})");
        Require(MaxSteps >= 0, "max_steps", $"must be non-negative, 0 for no limit (got {MaxSteps})");
        Require(MaxSeconds >= 0 && double.IsFinite(MaxSeconds), "max_seconds", $"must be non-negative, 0 for no limit (got {MaxSeconds})");
        Require(CheckpointEvery >= 0, "checkpoint_every", $"must be non-negative, 0 for only at the end (got {CheckpointEvery})");
        Require(LogEvery > 0, "log_every", $"must be positive (got {LogEvery})");
        Require(Scale <= 1024, "scale", $"must be at most 1024 (got {Scale}; margin heads use 16 to 64)");
        Require(Margin < (Head == HeadKind.CosFace ? 1 : Math.PI / 2), "margin", $"must be below {(Head == HeadKind.CosFace ? "1 (a cosine margin)" : "pi/2 radians")} (got {Margin})");
        Require(MagFaceLambda > 0, "mag_face_lambda", $"must be positive (got {MagFaceLambda})");
        Require(MagFaceLowerMagnitude > 0 && MagFaceUpperMagnitude > MagFaceLowerMagnitude, "mag_face_upper_magnitude",
            $"must exceed mag_face_lower_magnitude, which must be positive (got {MagFaceLowerMagnitude}, {MagFaceUpperMagnitude})");
        Require(MagFaceLowerMargin >= 0 && MagFaceUpperMargin >= MagFaceLowerMargin && MagFaceUpperMargin < Math.PI / 2, "mag_face_upper_margin",
            $"must be at least mag_face_lower_margin (non-negative) and below pi/2 (got {MagFaceLowerMargin}, {MagFaceUpperMargin})");
        Require(Milestones.All(m => m > 0 && m <= Epochs), "milestones", $"must lie in (0, epochs] (got {string.Join(", ", Milestones)})");
        Require(Milestones.Zip(Milestones.Skip(1)).All(p => p.First < p.Second), "milestones", $"must be in increasing order (got {string.Join(", ", Milestones)})");
        Require(PoolSize > 0 && (PoolSize < 1 || (PoolSize == Math.Floor(PoolSize) && PoolSize <= int.MaxValue)), "pool_size",
            $"must be a fraction in (0, 1) or a whole number of identities (got {PoolSize})");
        Require(FfcMomentum is >= 0 and < 1, "ffc_momentum", $"must be in [0, 1) (got {FfcMomentum})");
        if (Classifier == ClassifierKind.Ffc)
        {
            Require(SampleRate == 1, "sample_rate", $"is Partial FC's; FFC has no centre matrix to sample (got {SampleRate} with classifier ffc)");
            Require(Shards == 1, "shards", $"are Partial FC's; FFC has no centre matrix to shard (got {Shards} with classifier ffc)");
            Require(FcDtype == Classifiers.CentreStorage.Float32, "fc_dtype", "is Partial FC's; FFC's pool is float32");
            Require(Head is HeadKind.ArcFace or HeadKind.CosFace, "head", $"must be arcface or cosface with classifier ffc (got {Head})");
            Require(BatchSize % 2 == 0, "batch_size", $"must be even with classifier ffc: the identity loader takes batch_size / 2 pairs (got {BatchSize})");
            Require(MicroBatches == 1, "micro_batches", "must be 1 with classifier ffc");
            Require(Replicas == 1, "replicas", "must be 1 with classifier ffc");
        }
        Require(MicroBatches >= 1 && BatchSize % MicroBatches == 0, "micro_batches", $"must be at least 1 and divide batch_size {BatchSize} (got {MicroBatches})");
        Require(Replicas is >= 1 and <= 64, "replicas", $"must be from 1 to 64 (got {Replicas})");
        Require(Distributed.ThreadReplicas.Splits(BatchSize, Replicas), "replicas", $"must divide batch_size {BatchSize} into pieces of 2 or more images, as BatchNorm needs (got {Replicas})");
        Require(Replicas == 1 || MicroBatches == 1, "replicas", $"split the batch themselves: use micro_batches 1 with replicas {Replicas}");
    }
}
