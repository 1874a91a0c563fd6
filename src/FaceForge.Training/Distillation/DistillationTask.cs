using System.Globalization;
using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Input;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Distributed;
using FaceForge.Training.Embedding;
using FaceForge.Training.Hosting;
using FaceForge.Training.Input;
using FaceForge.Training.Recognition;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Distillation;

/// <summary>
/// One distillation generation on the training host. Each batch holds two crops of every sample, made from the same
/// image, landmarks and augmentation draw: the student's (main view) and the teacher's (extra view, its own template
/// and normalisation). The frozen teacher embeds its crops without gradient, every step: the augmentation is drawn
/// anew each epoch, so its features are never cached. The student's loss is the margin loss plus
/// <see cref="DistillationLoss"/>; both reach the backbone in one backward pass.
/// </summary>
internal sealed class DistillationTask : ITrainingTask
{
    private const string StudentEntry = "student.bin", ProjectionEntry = "projection.bin", ClassifierEntry = "classifier.bin",
        OptimizerEntry = "optimizer.bin", TeacherEntry = "teacher.sha256";
    private readonly DistillationConfig _config;
    private readonly TrainingConfig _studentConfig;
    private readonly int _generation;
    private readonly string _teacherHash;
    private readonly TorchFaceEmbedder _teacher;
    private readonly IFaceDataset _dataset;
    private readonly BatchLoader _loader;
    private readonly nn.Module<Tensor, Tensor> _student;
    private readonly TorchSharp.Modules.Linear? _projection;
    private readonly ITrainingClassifier _classifier;
    private readonly optim.Optimizer _optimizer;
    private readonly List<TorchSharp.Modules.Parameter> _trainable;
    private readonly FaceLandmarks[]? _landmarks;
    private LearningRateSchedule? _schedule;
    private readonly StepBatches _batches;
    private readonly ThreadReplicas? _studentReplicas, _teacherReplicas;
    private readonly BatchMixup? _mixup;
    private bool _centresReady;

    /// <param name="config">The generation's config (its Init is the previous generation's model).</param>
    /// <param name="generation">1-based generation.</param>
    /// <param name="teacherHash">SHA-256 of the teacher file as the run first read it.</param>
    public DistillationTask(DistillationConfig config, int generation, string teacherHash)
    {
        _config = config;
        _generation = generation;
        _teacherHash = teacherHash;
        _studentConfig = config.StudentConfig();
        _teacher = TorchFaceEmbedder.Open(config.Teacher!);
        try
        {
            foreach (var p in _teacher.Network.parameters()) p.requires_grad = false;
            StudentInfo = InfoFor(config, _teacher.Info);
            _dataset = FaceDataset.Open(config.Data!);
            _landmarks = config.Landmarks is { } file ? LandmarksByIndex(_dataset, config.Data!, file) : null;
            _loader = new BatchLoader(_dataset, new BatchLoaderOptions
            {
                BatchSize = config.BatchSize, Workers = config.Workers, Seed = config.Seed, Augmentation = config.Augmentation,
                Width = StudentInfo.InputWidth, Height = StudentInfo.InputHeight, Normalization = StudentInfo.Normalization, Template = StudentInfo.AlignmentTemplate,
                ExtraViews = [new InputView(_teacher.Info.InputWidth, _teacher.Info.InputHeight, _teacher.Info.Normalization, _teacher.Info.AlignmentTemplate)],
                Landmarks = _landmarks,
            });
            if (_loader.BatchesPerEpoch == 0)
                throw new ArgumentException($"'{config.Data}' holds {_dataset.Count} images: fewer than one batch of {config.BatchSize}.");
            _batches = new StepBatches(_loader);
            if (config.MixupProbability > 0) _mixup = new BatchMixup(config.MixupProbability, config.Seed);
            _student = BackboneCatalog.Create(StudentInfo);
            if (config.Init is { } init)
            {
                var (initInfo, weights) = ModelFile.Read(init);
                RequireInitFits(initInfo, StudentInfo, init);
                StateDict.Load(_student, weights, strict: true, init);
            }
            int teacherSize = _teacher.Info.EmbeddingSize;
            if (StudentInfo.EmbeddingSize != teacherSize) _projection = nn.Linear(StudentInfo.EmbeddingSize, teacherSize, hasBias: false);
            _classifier = RecognitionTask.CreateClassifier(_studentConfig, _dataset.IdentityCount, StudentInfo.EmbeddingSize, new SingleProcessCommunicator());
            _trainable = RecognitionTask.Trainable(_student).Concat(_projection is null ? [] : RecognitionTask.Trainable(_projection)).ToList();
            _optimizer = RecognitionTask.CreateOptimizer(_studentConfig, _trainable.Concat(_classifier.Parameters));
            _student.train();
            _projection?.train();
            if (config.Replicas > 1)
            {
                _teacherReplicas = new ThreadReplicas(_teacher.Network, () => FrozenCopy(_teacher.Info), config.Replicas);
                _studentReplicas = new ThreadReplicas(_student, () => BackboneCatalog.Create(StudentInfo), config.Replicas);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>What the student model file says about itself.</summary>
    public ModelInfo StudentInfo { get; }

    /// <summary>The student network (tests).</summary>
    internal nn.Module<Tensor, Tensor> StudentNetwork => _student;

    /// <summary>The classifier's state (tests).</summary>
    internal Dictionary<string, Formats.PyTorch.TensorData> ClassifierState() => _classifier.Export();

    /// <summary>The frozen teacher network (tests).</summary>
    internal nn.Module<Tensor, Tensor> TeacherNetwork => _teacher.Network;

    public string Title => $"Distillation, generation {_generation}: {StudentInfo.Architecture} from {_teacher.Info.Architecture}";

    public int StepsPerEpoch => _loader.BatchesPerEpoch;

    public int ImagesPerStep => _config.BatchSize;

    public int SkippedInputs => _loader.BadCount;

    /// <summary>The student a config trains: its architecture and width, and the teacher's embedding size unless another is set.</summary>
    public static ModelInfo InfoFor(DistillationConfig config, ModelInfo teacher)
    {
        var info = BackboneCatalog.Defaults(config.Student) with { EmbeddingSize = config.EmbeddingSize > 0 ? config.EmbeddingSize : teacher.EmbeddingSize };
        // MagFace makes the student's feature magnitude a quality score, as in plain training.
        if (config.Head == HeadKind.MagFace) info = info with { Quality = QualityKind.Magnitude };
        return config.Width == 1 ? info : info with { Options = new() { ["width"] = config.Width } };
    }

    /// <summary>Fails unless a model of <paramref name="init"/>'s kind can start this student.</summary>
    public static void RequireInitFits(ModelInfo init, ModelInfo student, string path)
    {
        if (!init.Architecture.Equals(student.Architecture, StringComparison.OrdinalIgnoreCase) || init.EmbeddingSize != student.EmbeddingSize
            || init.Options.GetValueOrDefault("width", 1) != student.Options.GetValueOrDefault("width", 1))
            throw new ArgumentException($"--init: '{path}' is a {init.Architecture} (width {init.Options.GetValueOrDefault("width", 1)}) with {init.EmbeddingSize}-d embeddings; this student is a {student.Architecture} (width {student.Options.GetValueOrDefault("width", 1)}) with {student.EmbeddingSize}-d ones.");
    }

    /// <summary>The landmarks of every image of an image folder, by dataset index; fails naming the first image without any.</summary>
    public static FaceLandmarks[] LandmarksByIndex(IFaceDataset dataset, string data, string landmarksPath)
    {
        if (dataset is not ImageFolderDataset folder)
            throw new ArgumentException($"--landmarks needs --data to be an image folder: '{data}' is a {dataset.Format} set, whose records have no file paths to look the points up by.");
        var points = LandmarksFile.Read(landmarksPath);
        var result = new FaceLandmarks[folder.Count];
        var missing = new List<string>();
        for (int i = 0; i < folder.Count; i++)
        {
            string key = folder.RelativePath(i).Replace('\\', '/');
            if (points.TryGetValue(key, out var found)) result[i] = found;
            else missing.Add(key);
        }
        if (missing.Count > 0)
            throw new ArgumentException($"--landmarks: '{landmarksPath}' has no points for {missing.Count} of the {folder.Count} images of '{data}' (first: '{missing[0]}'); every image is aligned from its five points.");
        return result;
    }

    public StepResult? Step(StepContext context)
    {
        // Before the first step of a new run only: a resumed run has its centres from the checkpoint.
        if (!_centresReady)
        {
            if (_config.TeacherCentres && _projection is null) StartCentresAtTeacherMeans(context.Cancellation);
            _centresReady = true;
        }
        _schedule ??= new LearningRateSchedule(_config.LearningRate, (int)Math.Round(_config.WarmupEpochs * StepsPerEpoch), context.TotalSteps, ScheduleKind.Polynomial, 2, []);
        if (_batches.Next(context) is not { } batch) return null;
        double lr = _schedule.At(context.Step);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        using var scope = torch.NewDisposeScope();
        var (images, labels) = TensorBatch.ToTensors(batch);
        var teacherImages = TensorBatch.ViewToTensor(batch, 1);
        batch.Dispose(); // back to the loader's pool
        Tensor? marginRows = null;
        if (_mixup is not null)
        {
            var (views, unmixed) = _mixup.Apply([images, teacherImages], context.Step);
            (images, teacherImages, marginRows) = (views[0], views[1], unmixed);
        }
        Tensor target;
        if (_teacherReplicas is not null) target = _teacherReplicas.Infer(teacherImages);
        else using (torch.no_grad()) target = _teacher.Network.call(ChannelsLast.From(teacherImages));
        _optimizer.zero_grad();
        var embeddings = _studentReplicas is not null ? _studentReplicas.Forward(images) : _student.call(ChannelsLast.From(images));
        var projected = _projection is null ? embeddings : _projection.call(embeddings);
        var losses = Backward(embeddings, projected, target, labels, _classifier, _config.Weight, marginRows);
        // The replicas' backward also releases their graphs, so it runs (and does nothing more) after a bad loss too.
        bool reached = _studentReplicas?.Backward(embeddings) ?? true;
        if (losses is not var (margin, distillValue) || !reached) return new StepResult(double.NaN, lr);
        var norm = _config.GradientClip > 0 ? nn.utils.clip_grad_norm_(_trainable, _config.GradientClip) : 0;
        if (!double.IsFinite(norm)) return new StepResult(double.NaN, lr);
        _optimizer.step();
        // A batch of blends alone gives the classifier no forward pass, so nothing for its own step to apply.
        if (marginRows is null || marginRows.shape[0] > 0) _classifier.AfterStep(lr);
        double cosine;
        using (torch.no_grad())
            cosine = nn.functional.cosine_similarity(projected.detach(), target, dim: 1).mean().item<float>();
        return new StepResult(margin + distillValue, lr, new Dictionary<string, double>
        {
            ["margin_loss"] = margin, ["distill_loss"] = distillValue, ["cosine_to_teacher"] = cosine,
        });
    }

    /// <summary>Sets each class centre to the normalised mean teacher embedding of that identity's unaugmented crops.</summary>
    private void StartCentresAtTeacherMeans(CancellationToken cancellation)
    {
        var info = _teacher.Info;
        var loader = new BatchLoader(_dataset, new BatchLoaderOptions
        {
            BatchSize = 128, Workers = _config.Workers, Shuffle = false, DropLast = false, Augmentation = AugmentationOptions.None,
            Width = info.InputWidth, Height = info.InputHeight, Normalization = info.Normalization, Template = info.AlignmentTemplate,
            Landmarks = _landmarks,
        });
        using var sums = torch.zeros(_dataset.IdentityCount, info.EmbeddingSize);
        using (torch.no_grad())
            foreach (var batch in loader.Epoch(0, 0, cancellation))
            {
                using var scope = torch.NewDisposeScope();
                var (images, labels) = TensorBatch.ToTensors(batch);
                batch.Dispose();
                var embeddings = nn.functional.normalize(_teacherReplicas?.Infer(images) ?? _teacher.Network.call(ChannelsLast.From(images)), p: 2, dim: 1);
                sums.index_add_(0, labels, embeddings, RootedScalars.One);
            }
        var state = _classifier.Export();
        using var centres = nn.functional.normalize(sums, p: 2, dim: 1);
        state["weight"] = StateDict.ToData(centres);
        _classifier.Import(state, "teacher centres");
    }

    /// <summary>
    /// Sends the gradient of margin loss + distillation term back through <paramref name="embeddings"/> in one backward
    /// pass: the classifier takes its loss and gradient on a detached copy, and that gradient is added to the
    /// distillation term's. <paramref name="marginRows"/>, when given, are the only samples the margin loss sees (the
    /// others are blends of two identities); with none of them the margin loss is 0. Returns both losses, or null (and
    /// no backward) when either is not finite.
    /// </summary>
    internal static (double Margin, double Distill)? Backward(Tensor embeddings, Tensor projected, Tensor target, Tensor labels, ITrainingClassifier classifier, double weight,
        Tensor? marginRows = null)
    {
        using var scope = torch.NewDisposeScope();
        var marginEmbeddings = marginRows is null ? embeddings : embeddings.index_select(0, marginRows);
        double margin = 0;
        Tensor? marginTerm = null;
        if (marginEmbeddings.shape[0] > 0)
        {
            var leaf = marginEmbeddings.detach().requires_grad_(true);
            margin = classifier.LossAndBackward(leaf, marginRows is null ? labels : labels.index_select(0, marginRows));
            if (!double.IsFinite(margin) || leaf.grad is not { } marginGradient) return null;
            marginTerm = marginEmbeddings.mul(marginGradient).sum();
        }
        var distill = DistillationLoss.Compute(projected, target, weight);
        double value = distill.item<float>();
        if (!double.IsFinite(value)) return null;
        (marginTerm is null ? distill : TensorSum.Add(distill, marginTerm)).backward();
        return (margin, value);
    }

    public void Save(CheckpointWriter checkpoint)
    {
        checkpoint.WriteBytes(TeacherEntry, System.Text.Encoding.ASCII.GetBytes(_teacherHash));
        _studentReplicas?.Synchronise();
        checkpoint.WriteModule(StudentEntry, _student);
        if (_projection is not null) checkpoint.WriteModule(ProjectionEntry, _projection);
        checkpoint.WriteTensors(ClassifierEntry, _classifier.Export());
        checkpoint.WriteOptimizer(OptimizerEntry, _optimizer);
    }

    public void Load(CheckpointReader checkpoint)
    {
        _centresReady = true;
        string saved = System.Text.Encoding.ASCII.GetString(checkpoint.ReadBytes(TeacherEntry));
        if (saved != _teacherHash)
            throw new InvalidDataException($"{checkpoint.Path}: the teacher '{_config.Teacher}' has changed since this run started (its SHA-256 differs); the student learned from the old one. Restore the file, or start over.");
        checkpoint.LoadModule(StudentEntry, _student);
        _studentReplicas?.Invalidate();
        if (_projection is not null) checkpoint.LoadModule(ProjectionEntry, _projection);
        _classifier.Import(checkpoint.ReadTensors(ClassifierEntry), $"{checkpoint.Path} (classifier)");
        checkpoint.LoadOptimizer(OptimizerEntry, _optimizer);
    }

    public void SaveModel(string path, int steps)
    {
        _studentReplicas?.Synchronise();
        ModelFile.Save(path, StudentInfo with { Source = $"faceforge distill from {Path.GetFileName(_config.Teacher)} (generation {_generation}, {steps} steps, weight {_config.Weight.ToString(CultureInfo.InvariantCulture)})" },
            StateDict.Export(_student));
    }

    /// <summary>An untrained network of the teacher's kind, frozen and in evaluation mode (its replicas copy the weights).</summary>
    private static nn.Module<Tensor, Tensor> FrozenCopy(ModelInfo info)
    {
        var network = BackboneCatalog.Create(info);
        foreach (var p in network.parameters()) p.requires_grad = false;
        network.eval();
        return network;
    }

    public IReadOnlyDictionary<string, string> Describe(int steps, int totalSteps) => new Dictionary<string, string>
    {
        ["teacher"] = $"{_config.Teacher} ({_teacher.Info.Architecture}, {_teacher.Info.InputWidth}x{_teacher.Info.InputHeight} {_teacher.Info.Template}, {_teacher.Info.EmbeddingSize}-d, frozen)",
        ["student"] = $"{StudentInfo.Architecture} width {_config.Width.ToString(CultureInfo.InvariantCulture)}, {StudentInfo.InputWidth}x{StudentInfo.InputHeight} {StudentInfo.Template}, {StudentInfo.EmbeddingSize}-d"
            + (_projection is null ? "" : $" (projected to {_teacher.Info.EmbeddingSize}-d in training only)"),
        ["generation"] = $"{_generation} of {_config.Generations}" + (_config.Init is { } init ? $", initialised from {init}" : ""),
        ["data"] = $"{_config.Data} ({_dataset.IdentityCount} identities, {_dataset.Count} images{(_config.Landmarks is null ? ", aligned crops" : $", aligned by {_config.Landmarks}")})",
        ["steps"] = $"{steps} of {totalSteps} (batch {_config.BatchSize}, {StepsPerEpoch} per epoch)",
        ["class centres"] = _config.TeacherCentres && _projection is null ? "each identity's mean teacher embedding at the start" : "random at the start",
        ["loss"] = $"{_config.Head} margin loss + {_config.Weight.ToString(CultureInfo.InvariantCulture)} x |s/|s| - t/|t||^2",
        ["mixup"] = _mixup is null ? "off" : $"{_config.MixupProbability.ToString(CultureInfo.InvariantCulture)} of the samples blended with another of the batch (lambda ~ U(0, 1), both crops alike; distillation term only)",
    };

    public void Dispose()
    {
        _batches?.Dispose();
        _studentReplicas?.Dispose();
        _teacherReplicas?.Dispose();
        _optimizer?.Dispose();
        _classifier?.Dispose();
        _projection?.Dispose();
        _student?.Dispose();
        _dataset?.Dispose();
        _teacher.Dispose();
    }
}
