using FaceForge.Detection;
using FaceForge.Models;
using FaceForge.Training.Hosting;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>
/// Trains a RetinaFace-style detector on label.txt data, and, for the occlusion-aware architecture, its occlusion
/// segmentation branch and (unless plain) the AOFD game: an <see cref="AdversarialMaskGenerator"/> picks, per face,
/// the feature mask that most raises the detector's loss (policy gradient on that loss), and the detector learns from
/// both the clean and the masked features. Runs on the <see cref="TrainingHost"/> (run folder, checkpoints, resume,
/// metrics with masked_loss, report).
/// </summary>
/// <remarks>One run per instance, on the calling thread.</remarks>
public sealed class DetectorTrainer
{
    private readonly DetectorTrainingConfig _config;
    private readonly RunFolder _folder;

    /// <summary>Prepares a run of <paramref name="config"/> in <paramref name="runDirectory"/>.</summary>
    public DetectorTrainer(DetectorTrainingConfig config, string runDirectory)
    {
        config.Validate();
        _config = config;
        _folder = new RunFolder(runDirectory);
    }

    /// <summary>The run folder.</summary>
    public RunFolder Folder => _folder;

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) training.</summary>
    /// <exception cref="RunFolderConflictException">The folder holds a finished or started run and neither resume nor force was asked.</exception>
    public TrainingResult Run(bool resume = false, bool force = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default) =>
        new TrainingHost(_folder, _config).Run(() => new DetectorTask(_config), resume, force, progress, cancellation);
}

/// <summary>The detector step on the training host.</summary>
internal sealed class DetectorTask : ITrainingTask
{
    private static readonly float[] DefaultLandmarks = [0.3f, 0.4f, 0.7f, 0.4f, 0.5f, 0.6f, 0.35f, 0.8f, 0.65f, 0.8f];
    private readonly DetectorTrainingConfig _config;
    private readonly string _labels;
    private readonly DetectionSamples _samples;
    private readonly ModelInfo _info;
    private readonly nn.Module<Tensor, DetectionOutput> _network;
    private readonly RetinaFaceMobileNet _detector;
    private readonly RetinaFaceMobileNet? _teacher;
    private readonly OcclusionAwareDetector? _occlusion;
    private readonly AdversarialMaskGenerator _generator;
    private readonly optim.Optimizer _optimizer;
    private readonly optim.Optimizer? _segmentationOptimizer;
    private readonly optim.Optimizer _generatorOptimizer;
    private readonly Generator _sampler;
    private readonly float[] _priors;
    private double _baseline;
    private (int Epoch, int[] Order) _order = (-1, []);

    public DetectorTask(DetectorTrainingConfig config)
    {
        _config = config;
        _labels = Directory.Exists(config.Data) ? Path.Combine(config.Data, "label.txt") : config.Data;
        string besideLabels = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(_labels))!, "masks");
        if (config.Masks is { } given && !Directory.Exists(given)) throw new DirectoryNotFoundException($"Config 'masks': folder '{given}' does not exist.");
        string? masks = config.Masks ?? (Directory.Exists(besideLabels) ? besideLabels : null);
        _samples = new DetectionSamples(_labels, config.Images, config.IsOcclusionAware || config.TeacherWeight > 0 ? masks : null);
        // Without masks every face would count as clean, and the teacher would hold occluded faces to the init model.
        if (config.TeacherWeight > 0 && !_samples.HasMasks)
            throw new ArgumentException($"Config 'teacher_weight' needs occlusion masks (a masks/ folder beside '{_labels}', or 'masks'): they tell which faces are unoccluded.");
        _info = DetectorCatalog.Defaults(config.Arch) with { Source = $"faceforge train-detector ({Mode})" };
        _network = DetectorCatalog.Create(_info);
        if (config.Init is { } init) LoadInit(_network, init, config.IsOcclusionAware);
        _occlusion = _network as OcclusionAwareDetector;
        _detector = _occlusion?.Detector ?? (RetinaFaceMobileNet)_network;
        if (config.TeacherWeight > 0 || config.BackgroundHoldWeight > 0) _teacher = LoadTeacher(config.Init!);
        _generator = new AdversarialMaskGenerator();
        // The detector fine-tunes with SGD; the segmentation branch starts from scratch and gets Adam.
        _optimizer = new SgdOptimizer(_detector.parameters(), config.LearningRate, config.Momentum, config.WeightDecay);
        _segmentationOptimizer = _occlusion is null ? null : new AdamOptimizer(_occlusion.SegmentationParameters, config.SegmentationLearningRate);
        _generatorOptimizer = new AdamOptimizer(_generator.parameters(), config.GeneratorLearningRate);
        _sampler = new Generator((ulong)config.Seed);
        _priors = RetinaFaceDecoder.MobileNet.Priors(config.InputWidth, config.InputHeight);
        SetTrainingMode();
    }

    /// <summary>Training mode, with the detector's batch norm layers in inference mode when they are frozen.</summary>
    private void SetTrainingMode()
    {
        _network.train();
        // Frozen parts run in inference mode too, or their batch norm statistics would still follow the new data.
        var frozen = _detector.FrozenParts(_config.Trainable);
        if (_config.FreezeBatchNorm) frozen = frozen.Concat(_detector.modules().Where(m => m is TorchSharp.Modules.BatchNorm));
        foreach (var part in frozen) Freeze(part);
    }

    /// <summary>Inference mode and no gradients: a frozen part, or the teacher.</summary>
    private static T Freeze<T>(T module) where T : nn.Module
    {
        module.eval();
        foreach (var parameter in module.parameters()) parameter.requires_grad = false;
        return module;
    }

    private string Mode => _config.Adversarial ? "adversarial masks" : "plain";

    public string Title => $"Detector training: {_info.Architecture} ({Mode})";

    public int StepsPerEpoch => Math.Max(1, _samples.Count / _config.BatchSize);

    public int ImagesPerStep => Math.Min(_config.BatchSize, _samples.Count);

    public int SkippedInputs => 0; // label files are checked whole when read

    public StepResult? Step(StepContext context)
    {
        var (step, epoch, b) = (context.Step, context.Epoch, context.IndexInEpoch);
        if (_order.Epoch != epoch)
        {
            int[] shuffled = Enumerable.Range(0, _samples.Count).ToArray();
            new Random(Randomness.SeedMixer.Mix(_config.Seed, epoch, 0xDE7)).Shuffle(shuffled);
            _order = (epoch, shuffled);
        }
        int width = _config.InputWidth, height = _config.InputHeight;
        var batch = new DetectionSample[ImagesPerStep];
        Parallel.For(0, batch.Length, i =>
        {
            int position = b * _config.BatchSize + i;
            bool flip = new Random(Randomness.SeedMixer.Mix(_config.Seed, epoch, position, 0xF11)).Next(2) == 1;
            batch[i] = _samples.Load(_order.Order[position % _samples.Count], width, height, flip);
        });
        double maskedValue = 0;
        double lr = step >= _config.LrDropAt * context.TotalSteps ? _config.LearningRate * _config.LrDropFactor : _config.LearningRate;
        using var scope = torch.NewDisposeScope();
        // The loss weights as Scalars held through the calls (a temporary may be freed mid-call: RootedScalars).
        using Scalar teacherWeight = _config.TeacherWeight, holdWeight = _config.BackgroundHoldWeight,
            segmentationWeight = _config.SegmentationWeight, entropyWeight = _config.GeneratorEntropy;
        var input = torch.tensor(batch.SelectMany(s => s.Pixels).ToArray(), [batch.Length, 3, height, width]);
        var targets = MultiBoxLoss.Match(batch, _priors, width, height);
        var body = _detector.Body(input);
        var features = _detector.Context(body);
        var heads = _detector.Heads(features);
        var (loss, _) = MultiBoxLoss.Compute(heads, targets);
        double teacherValue = 0, holdValue = 0;
        var clean = _config.TeacherWeight > 0 ? CleanFaceAnchors(batch, targets.Owner, width, height) : null;
        if (_teacher is not null && (clean is not null || _config.BackgroundHoldWeight > 0))
        {
            DetectionOutput teacher;
            using (torch.no_grad()) teacher = _teacher.Heads(_teacher.Context(_teacher.Body(input)));
            var (studentOdds, teacherOdds) = (LogOdds(heads.Logits), LogOdds(teacher.Logits));
            if (clean is not null)
            {
                var consistency = TeacherConsistency(heads, teacher, studentOdds, teacherOdds, clean, targets.Owner);
                teacherValue = consistency.item<float>();
                loss = TensorSum.Add(loss, consistency.mul(teacherWeight));
            }
            if (_config.BackgroundHoldWeight > 0)
            {
                var (background, matched) = BackgroundAnchors(batch, targets.Owner, _priors, width, height);
                var hold = BackgroundHold(studentOdds, teacherOdds, background, matched);
                holdValue = hold.item<float>();
                loss = TensorSum.Add(loss, hold.mul(holdWeight));
            }
        }
        if (_occlusion is not null && _samples.HasMasks)
            loss = TensorSum.Add(loss, SegmentationLoss(_occlusion.Occlusion(features[0]), OcclusionCells(batch, features[0], width, height)).mul(segmentationWeight));
        if (_config.Adversarial)
        {
            var (logits, faces) = Policy(_generator, features[0], batch);
            var logProbabilities = nn.functional.log_softmax(logits, 1);
            var probabilities = logProbabilities.exp();
            var chosen = torch.multinomial(probabilities.detach(), 1, generator: _sampler).squeeze(1);
            // Masks hide the body's features, so FPN and SSH must find the face from what is left, with context.
            var masked = Mask(body, batch, faces, chosen.data<long>().ToArray(), step);
            var (maskedLoss, anchorLoss) = MultiBoxLoss.Compute(_detector.Heads(_detector.Context(masked)), targets);
            loss = TensorSum.Add(loss, maskedLoss);
            maskedValue = maskedLoss.item<float>();
            // The adversary's reward: each face's classification loss under its mask (higher is better for it).
            var reward = FaceRewards(anchorLoss, targets.Owner, faces);
            // A non-finite step changes nothing, the generator and its reward baseline included (the host counts it).
            if (!double.IsFinite(loss.item<float>()) || !reward.All(double.IsFinite)) return new StepResult(double.NaN, lr);
            double momentum = _config.RewardBaselineMomentum;
            _baseline = step == 0 ? reward.Average() : momentum * _baseline + (1 - momentum) * reward.Average();
            var advantage = torch.tensor(reward.Select(r => (float)(r - _baseline)).ToArray());
            var logChosen = logProbabilities.gather(1, chosen.unsqueeze(1)).squeeze(1);
            var entropy = -(probabilities * logProbabilities).sum(1).mean();
            var generatorLoss = (advantage * logChosen).mean().neg() - entropy.mul(entropyWeight);
            _generatorOptimizer.zero_grad();
            generatorLoss.backward();
            _generatorOptimizer.step();
        }
        double lossValue = loss.item<float>();
        // A non-finite loss: skip the update (the host counts it).
        if (!double.IsFinite(lossValue)) return new StepResult(double.NaN, lr);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        _optimizer.zero_grad();
        _segmentationOptimizer?.zero_grad();
        loss.backward();
        if (_config.GradientClip > 0) nn.utils.clip_grad_norm_(_detector.parameters(), _config.GradientClip);
        _optimizer.step();
        _segmentationOptimizer?.step();
        return new StepResult(lossValue, lr, new Dictionary<string, double> { ["masked_loss"] = maskedValue, ["teacher_loss"] = teacherValue, ["background_hold_loss"] = holdValue });
    }

    public void Save(CheckpointWriter checkpoint)
    {
        checkpoint.WriteModule("network.bin", _network);
        checkpoint.WriteModule("generator.bin", _generator);
        checkpoint.WriteOptimizer("optimizer.bin", _optimizer);
        if (_segmentationOptimizer is not null) checkpoint.WriteOptimizer("segmentation_optimizer.bin", _segmentationOptimizer);
        checkpoint.WriteOptimizer("generator_optimizer.bin", _generatorOptimizer);
        checkpoint.WriteGenerator("sampler.bin", _sampler);
        checkpoint.WriteJson("detector.json", new Dictionary<string, double> { ["reward_baseline"] = _baseline });
    }

    public void Load(CheckpointReader checkpoint)
    {
        checkpoint.LoadModule("network.bin", _network);
        checkpoint.LoadModule("generator.bin", _generator);
        checkpoint.LoadOptimizer("optimizer.bin", _optimizer);
        if (_segmentationOptimizer is not null) checkpoint.LoadOptimizer("segmentation_optimizer.bin", _segmentationOptimizer);
        checkpoint.LoadOptimizer("generator_optimizer.bin", _generatorOptimizer);
        checkpoint.LoadGenerator("sampler.bin", _sampler);
        _baseline = checkpoint.ReadJson<Dictionary<string, double>>("detector.json")["reward_baseline"];
    }

    public void SaveModel(string path, int steps) => ModelFile.Save(path, _info, StateDict.Export(_network));

    public IReadOnlyDictionary<string, string> Describe(int steps, int totalSteps) => new Dictionary<string, string>
    {
        ["data"] = $"{_labels} ({_samples.Count} images{(_samples.HasMasks ? ", occlusion masks" : "")})",
        ["steps"] = $"{steps} of {totalSteps} (batch {_config.BatchSize}, {_config.InputWidth}x{_config.InputHeight})",
    };

    public void Dispose()
    {
        _teacher?.Dispose();
        _sampler.Dispose();
        _generatorOptimizer.Dispose();
        _segmentationOptimizer?.Dispose();
        _optimizer.Dispose();
        _generator.Dispose();
        _network.Dispose();
    }

    private static void LoadInit(nn.Module network, string path, bool aofd)
    {
        var (info, weights) = ModelFile.Read(path);
        if (info.Kind != ModelInfo.DetectionKind) throw new InvalidDataException($"Init model '{path}' is a {info.Kind} model, not a face detector.");
        // A RetinaFace model initialises the detector part of an occlusion-aware one.
        if (aofd && info.Architecture.Equals(DetectorCatalog.RetinaFace, StringComparison.OrdinalIgnoreCase))
        {
            StateDict.Load(((OcclusionAwareDetector)network).Detector, weights, strict: true, path);
            return;
        }
        StateDict.Load(network, weights, strict: true, path);
    }

    /// <summary>The init model's RetinaFace part, frozen, in inference mode.</summary>
    private static RetinaFaceMobileNet LoadTeacher(string path)
    {
        var (info, weights) = ModelFile.Read(path);
        if (info.Kind != ModelInfo.DetectionKind) throw new InvalidDataException($"Init model '{path}' is a {info.Kind} model, not a face detector.");
        // An occlusion-aware init's detector part (its "detector." weights) is the teacher.
        var own = info.Architecture.Equals(DetectorCatalog.RetinaFace, StringComparison.OrdinalIgnoreCase) ? weights
            : weights.Where(kv => kv.Key.StartsWith("detector.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["detector.".Length..], kv => kv.Value);
        var network = new RetinaFaceMobileNet();
        StateDict.Load(network, own, strict: true, path);
        return Freeze(network);
    }

    /// <summary>
    /// B x N, flat: anchors matched to a face with (almost) no occluded pixel: where the teacher's outputs are the target.
    /// Without occlusion masks every face counts as clean. Null when there is none.
    /// </summary>
    private static bool[]? CleanFaceAnchors(DetectionSample[] batch, int[][] owner, int width, int height)
    {
        int n = owner[0].Length;
        var clean = new bool[batch.Length * n];
        bool any = false;
        for (int i = 0; i < batch.Length; i++)
        {
            var faceClean = batch[i].Boxes.Select(box => batch[i].Occluded is not { } map || OccludedShare(map, box, width, height) < 0.02).ToArray();
            for (int a = 0; a < n; a++)
                if (owner[i][a] >= 0 && faceClean[owner[i][a]]) any = clean[i * n + a] = true;
        }
        return any ? clean : null;
    }

    private static double OccludedShare(bool[] map, float[] box, int width, int height)
    {
        int x0 = Math.Clamp((int)box[0], 0, width), x1 = Math.Clamp((int)MathF.Ceiling(box[2]), x0, width);
        int y0 = Math.Clamp((int)box[1], 0, height), y1 = Math.Clamp((int)MathF.Ceiling(box[3]), y0, height);
        int hidden = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                if (map[y * width + x]) hidden++;
        return hidden / (double)Math.Max(1, (x1 - x0) * (y1 - y0));
    }

    /// <summary>
    /// Over the <paramref name="clean"/> anchors, smooth-L1 between the detector's and the teacher's raw box, landmark
    /// and face log-odds outputs, plus <see cref="WinnerMargin"/>. Raw per-anchor outputs, not decoded faces: the
    /// landmarks of a detection are those of the anchor that wins NMS, so holding the teacher's winner gives the
    /// teacher's landmarks, when that winner is an anchor matched to the face (anchors that match no face are held by
    /// neither term).
    /// </summary>
    private static Tensor TeacherConsistency(DetectionOutput student, DetectionOutput teacher, Tensor studentOdds, Tensor teacherOdds, bool[] clean, int[][] owner)
    {
        var mask = torch.tensor(clean, [owner.Length, owner[0].Length]);
        var boxes = nn.functional.smooth_l1_loss(student.Boxes[mask], teacher.Boxes[mask]);
        var marks = nn.functional.smooth_l1_loss(student.Landmarks[mask], teacher.Landmarks[mask]);
        var scores = nn.functional.smooth_l1_loss(studentOdds[mask], teacherOdds[mask]);
        return TensorSum.Add(TensorSum.Add(TensorSum.Add(boxes, marks), scores), WinnerMargin(studentOdds, teacherOdds, clean, owner));
    }

    /// <summary>
    /// Over the <paramref name="background"/> anchors (B x N, flat), the detector's face log-odds above the teacher's,
    /// summed and divided by the <paramref name="matched"/> anchors (as <see cref="MultiBoxLoss"/> normalises):
    /// one-sided, so growing surer that something is background costs nothing, and growing surer than the teacher that
    /// it is a face is penalised. Learning to score partly hidden faces also raises hair and dark background in the
    /// shared photos above 0.5 (3 false faces in 6 photos at 640 pixels); the training composites' backgrounds are few,
    /// so the hold is to the teacher on every background anchor rather than to labels on the hardest ones. It trades
    /// occlusion recall for those false faces (docs/occlusion.md), hence opt-in.
    /// </summary>
    internal static Tensor BackgroundHold(Tensor studentOdds, Tensor teacherOdds, bool[] background, int matched)
    {
        using var mask = torch.tensor(background, studentOdds.shape);
        using Scalar anchors = Math.Max(1, matched);
        return nn.functional.relu(studentOdds[mask] - teacherOdds.detach()[mask]).sum().div(anchors);
    }

    /// <summary>
    /// Anchors matched to no face whose centre lies outside every face box (B x N, flat), and the count of matched
    /// anchors. Anchors on a face that matched none of it (a half-hidden face's visible half, a neighbouring scale)
    /// are left to the labels: the teacher misses occluded faces.
    /// </summary>
    private static (bool[] Anchors, int Matched) BackgroundAnchors(DetectionSample[] batch, int[][] owner, float[] priors, int width, int height)
    {
        int n = owner[0].Length, matched = 0;
        var background = new bool[batch.Length * n];
        for (int i = 0; i < batch.Length; i++)
            for (int a = 0; a < n; a++)
            {
                if (owner[i][a] >= 0) { matched++; continue; }
                float cx = priors[4 * a] * width, cy = priors[4 * a + 1] * height;
                bool onFace = false;
                foreach (var box in batch[i].Boxes) onFace |= cx >= box[0] && cx <= box[2] && cy >= box[1] && cy <= box[3];
                background[i * n + a] = !onFace;
            }
        return (background, matched);
    }

    /// <summary>
    /// Per clean face, a hinge that keeps the teacher's highest-scoring anchor (among those matched to the face) ahead of
    /// the face's other anchors in the detector's log-odds by as much as the teacher had it ahead, up to
    /// <see cref="WinnerMarginLogOdds"/>. A face's neighbouring anchors score within a fraction of a log-odds unit of
    /// each other, so holding each anchor's score near the teacher's does not hold which one is highest: with that
    /// alone, another anchor won NMS on 12 % of the clean test faces and brought its landmarks (0.55 % NME against the
    /// imported 0.009 %; docs/occlusion.md).
    /// </summary>
    internal static Tensor WinnerMargin(Tensor studentOdds, Tensor teacherOdds, bool[] clean, int[][] owner)
    {
        int n = owner[0].Length;
        float[] teacher = teacherOdds.detach().contiguous().data<float>().ToArray();
        var faces = new Dictionary<(int Image, int Face), List<long>>();
        for (int i = 0; i < owner.Length; i++)
            for (int a = 0; a < n; a++)
                if (clean[i * n + a])
                {
                    if (!faces.TryGetValue((i, owner[i][a]), out var anchors)) faces[(i, owner[i][a])] = anchors = [];
                    anchors.Add(i * n + a);
                }
        var groups = faces.Values.Where(anchors => anchors.Count > 1).ToList();
        if (groups.Count == 0) return torch.zeros(1).sum();
        int width = groups.Max(anchors => anchors.Count) - 1;
        var winners = new long[groups.Count];
        var others = new long[groups.Count * width];
        var padding = new bool[groups.Count * width];
        for (int g = 0; g < groups.Count; g++)
        {
            long best = groups[g].MaxBy(index => teacher[index]);
            winners[g] = best;
            int k = 0;
            foreach (long index in groups[g].Where(index => index != best)) others[g * width + k++] = index;
            for (; k < width; k++) { others[g * width + k] = best; padding[g * width + k] = true; }
        }
        using var pad = torch.tensor(padding, [groups.Count, width]);
        using var otherIndex = torch.tensor(others);
        using var winnerIndex = torch.tensor(winners);
        Tensor Lead(Tensor odds)
        {
            var flat = odds.reshape(-1);
            var runnerUp = flat[otherIndex].view(groups.Count, width).masked_fill(pad, RootedScalars.NegativeInfinityF).amax(1);
            return flat[winnerIndex] - runnerUp;
        }
        // The teacher's own lead, up to the margin: what the detector can keep with heads shared by neighbouring anchors.
        var target = Lead(teacherOdds.detach()).clamp_max(WinnerMarginLogOddsScalar);
        return nn.functional.relu(target - Lead(studentOdds)).mean();
    }

    /// <summary>The most log-odds lead asked of the teacher's winning anchor over a clean face's other anchors (odds e times higher).</summary>
    internal const float WinnerMarginLogOdds = 1;

    private static readonly Scalar WinnerMarginLogOddsScalar = WinnerMarginLogOdds; // rooted: see RootedScalars

    /// <summary>log p(face) - log p(background) per anchor, from the two-class logits.</summary>
    internal static Tensor LogOdds(Tensor logits) => logits[.., .., 1] - logits[.., .., 0];

    /// <summary>Generator logits for every face of the batch from its mean stride-8 features, and the (image, face) of each row.</summary>
    private static (Tensor Logits, List<(int Image, int Face)> Faces) Policy(AdversarialMaskGenerator generator, Tensor stride8, DetectionSample[] batch)
    {
        long rows = stride8.shape[2], cols = stride8.shape[3];
        var pooled = new List<Tensor>();
        var faces = new List<(int, int)>();
        for (int i = 0; i < batch.Length; i++)
            for (int f = 0; f < batch[i].Boxes.Count; f++)
            {
                var box = batch[i].Boxes[f];
                long x0 = Math.Clamp((long)(box[0] / 8), 0, cols - 1), x1 = Math.Clamp((long)MathF.Ceiling(box[2] / 8), x0 + 1, cols);
                long y0 = Math.Clamp((long)(box[1] / 8), 0, rows - 1), y1 = Math.Clamp((long)MathF.Ceiling(box[3] / 8), y0 + 1, rows);
                pooled.Add(stride8[i].narrow(1, y0, y1 - y0).narrow(2, x0, x1 - x0).mean([1, 2]).detach());
                faces.Add((i, f));
            }
        return (generator.call(torch.stack(pooled.ToArray())), faces);
    }

    /// <summary>The body's feature maps with each face's chosen candidate region zeroed at every stride.</summary>
    private static Tensor[] Mask(Tensor[] features, DetectionSample[] batch, List<(int Image, int Face)> faces, long[] chosen, int step)
    {
        var marks = faces.Select(f =>
        {
            var box = batch[f.Image].Boxes[f.Face];
            return batch[f.Image].Landmarks[f.Face] ?? DefaultLandmarks.Select((v, k) => k % 2 == 0 ? box[0] + v * (box[2] - box[0]) : box[1] + v * (box[3] - box[1])).ToArray();
        }).ToArray();
        var result = new Tensor[features.Length];
        for (int level = 0; level < features.Length; level++)
        {
            int rows = (int)features[level].shape[2], cols = (int)features[level].shape[3];
            var keep = Enumerable.Repeat(1f, batch.Length * rows * cols).ToArray();
            int stride = 8 << level;
            for (int n = 0; n < faces.Count; n++)
            {
                var (image, face) = faces[n];
                var box = batch[image].Boxes[face];
                int seed = Randomness.SeedMixer.Mix(step, n);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                        if (AdversarialMaskGenerator.Hides((int)chosen[n], (c + 0.5f) * stride, (r + 0.5f) * stride, box, marks[n], seed))
                            keep[(image * rows + r) * cols + c] = 0;
            }
            result[level] = features[level] * torch.tensor(keep, [batch.Length, 1, rows, cols]);
        }
        return result;
    }

    /// <summary>Each face's mean classification loss over the anchors matched to it.</summary>
    private static double[] FaceRewards(Tensor anchorLoss, int[][] owner, List<(int Image, int Face)> faces)
    {
        float[] loss = anchorLoss.contiguous().data<float>().ToArray();
        int n = owner[0].Length;
        return faces.Select(f =>
        {
            double sum = 0;
            int count = 0;
            for (int a = 0; a < n; a++)
                if (owner[f.Image][a] == f.Face) { sum += loss[f.Image * n + a]; count++; }
            return count > 0 ? sum / count : 0;
        }).ToArray();
    }

    /// <summary>
    /// Binary cross-entropy plus soft Dice: occluded cells are a few percent of an image, and cross-entropy alone
    /// settles on predicting none of them.
    /// </summary>
    private static Tensor SegmentationLoss(Tensor logits, Tensor target)
    {
        var probability = torch.sigmoid(logits);
        // 1 - (2 |p t| + 1) / (|p| + |t| + 1), with rooted Scalars (RootedScalars).
        var overlap = (probability * target).sum().mul(RootedScalars.Two).add(RootedScalars.One, RootedScalars.One);
        var total = TensorSum.Add(probability.sum(), target.sum()).add(RootedScalars.One, RootedScalars.One);
        var dice = (overlap / total).neg().add(RootedScalars.One, RootedScalars.One);
        return TensorSum.Add(nn.functional.binary_cross_entropy_with_logits(logits, target), dice);
    }

    /// <summary>Per stride-8 cell of a <paramref name="width"/> x <paramref name="height"/> input: whether most of its pixels are occluded face pixels.</summary>
    private static Tensor OcclusionCells(DetectionSample[] batch, Tensor stride8, int width, int height)
    {
        var cells = batch.SelectMany(s => OcclusionGrid.Cells(s.Occluded!, width, height)).Select(c => c ? 1f : 0f).ToArray();
        return torch.tensor(cells, [batch.Length, 1, stride8.shape[2], stride8.shape[3]]);
    }
}
