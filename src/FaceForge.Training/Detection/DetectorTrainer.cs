using System.Diagnostics;
using System.Text.Json;
using FaceForge.Detection;
using FaceForge.Models;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>Where a detector training run stands.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps planned.</param>
/// <param name="Loss">Detector loss (clean plus masked) of the last step.</param>
/// <param name="MaskedLoss">Classification-and-regression loss on the adversarially masked features (0 when plain).</param>
/// <param name="ImagesPerSecond">Throughput.</param>
public sealed record DetectorTrainingStatus(int Step, int TotalSteps, double Loss, double MaskedLoss, double ImagesPerSecond);

/// <summary>
/// Trains a RetinaFace-style detector on label.txt data, and, for the occlusion-aware architecture, its occlusion
/// segmentation branch and (unless plain) the AOFD game: an <see cref="AdversarialMaskGenerator"/> picks, per face,
/// the feature mask that most raises the detector's loss (policy gradient on that loss), and the detector learns from
/// both the clean and the masked features. Writes RUN/model.ffm, metrics.jsonl and report.html.
/// </summary>
/// <remarks>One run per instance, on the calling thread.</remarks>
public sealed class DetectorTrainer(DetectorTrainingOptions options, string runDirectory)
{
    private static readonly float[] DefaultLandmarks = [0.3f, 0.4f, 0.7f, 0.4f, 0.5f, 0.6f, 0.35f, 0.8f, 0.65f, 0.8f];

    /// <summary>Trains and returns the model path.</summary>
    public string Run(IProgress<DetectorTrainingStatus>? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(options.Seed);
        string labels = Directory.Exists(options.Data) ? Path.Combine(options.Data, "label.txt") : options.Data;
        string besideLabels = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(labels))!, "masks");
        string? masks = options.Masks ?? (Directory.Exists(besideLabels) ? besideLabels : null);
        bool aofd = options.Architecture.Equals(DetectorCatalog.OcclusionAware, StringComparison.OrdinalIgnoreCase);
        var samples = new DetectionSamples(labels, options.Images, aofd ? masks : null);
        Directory.CreateDirectory(runDirectory);

        var info = DetectorCatalog.Defaults(options.Architecture) with { Source = $"faceforge train-detector ({(options.Adversarial ? "adversarial masks" : "plain")})" };
        using var network = DetectorCatalog.Create(info);
        if (options.Init is { } init) LoadInit(network, init, aofd);
        var detector = aofd ? ((OcclusionAwareDetector)network).Detector : (RetinaFaceMobileNet)network;
        using var generator = new AdversarialMaskGenerator();
        // The detector fine-tunes with SGD; the segmentation branch starts from scratch and gets Adam.
        using var optimizer = optim.SGD(detector.parameters(), options.LearningRate, 0.9, weight_decay: 5e-4);
        using var segmentationOptimizer = aofd ? optim.Adam(((OcclusionAwareDetector)network).SegmentationParameters, 1e-3) : null;
        using var generatorOptimizer = optim.Adam(generator.parameters(), 1e-3);
        using var sampler = new Generator((ulong)options.Seed);

        int perEpoch = Math.Max(1, samples.Count / options.BatchSize);
        int total = options.Epochs * perEpoch;
        if (options.MaxSteps > 0) total = Math.Min(total, options.MaxSteps);
        float[] priors = RetinaFaceDecoder.MobileNet.Priors(options.Width, options.Height);
        var clock = Stopwatch.StartNew();
        var curve = new List<(double, double)>();
        using var metrics = new StreamWriter(Path.Combine(runDirectory, "metrics.jsonl"));
        double baseline = 0;
        network.train();
        int step = 0;
        for (int epoch = 0; step < total; epoch++)
        {
            int[] order = Enumerable.Range(0, samples.Count).ToArray();
            new Random(Randomness.SeedMixer.Mix(options.Seed, epoch, 0xDE7)).Shuffle(order);
            for (int b = 0; b < perEpoch && step < total; b++)
            {
                if (cancellation.IsCancellationRequested || (options.MaxSeconds > 0 && clock.Elapsed.TotalSeconds > options.MaxSeconds)) { total = step; break; }
                var batch = new DetectionSample[Math.Min(options.BatchSize, samples.Count)];
                Parallel.For(0, batch.Length, i =>
                {
                    int position = b * options.BatchSize + i;
                    bool flip = new Random(Randomness.SeedMixer.Mix(options.Seed, epoch, position, 0xF11)).Next(2) == 1;
                    batch[i] = samples.Load(order[position % samples.Count], options.Width, options.Height, flip);
                });
                double lossValue, maskedValue = 0;
                using (var scope = torch.NewDisposeScope())
                {
                    var input = torch.tensor(batch.SelectMany(s => s.Pixels).ToArray(), [batch.Length, 3, options.Height, options.Width]);
                    var targets = MultiBoxLoss.Match(batch, priors, options.Width, options.Height);
                    var body = detector.Body(input);
                    var features = detector.Context(body);
                    var (loss, _) = MultiBoxLoss.Compute(detector.Heads(features), targets);
                    if (aofd && samples.HasMasks)
                        loss = loss + options.SegmentationWeight * SegmentationLoss(((OcclusionAwareDetector)network).Occlusion(features[0]), OcclusionCells(batch, features[0], options.Width, options.Height));
                    if (options.Adversarial)
                    {
                        var (logits, faces) = Policy(generator, features[0], batch);
                        var logProbabilities = nn.functional.log_softmax(logits, 1);
                        var probabilities = logProbabilities.exp();
                        var chosen = torch.multinomial(probabilities.detach(), 1, generator: sampler).squeeze(1);
                        // Masks hide the body's features, so FPN and SSH must find the face from what is left, with context.
                        var masked = Mask(body, batch, faces, chosen.data<long>().ToArray(), step);
                        var (maskedLoss, anchorLoss) = MultiBoxLoss.Compute(detector.Heads(detector.Context(masked)), targets);
                        loss = loss + maskedLoss;
                        maskedValue = maskedLoss.item<float>();
                        // The adversary's reward: each face's classification loss under its mask (higher is better for it).
                        var reward = FaceRewards(anchorLoss, targets.Owner, faces);
                        baseline = step == 0 ? reward.Average() : 0.9 * baseline + 0.1 * reward.Average();
                        var advantage = torch.tensor(reward.Select(r => (float)(r - baseline)).ToArray());
                        var logChosen = logProbabilities.gather(1, chosen.unsqueeze(1)).squeeze(1);
                        var entropy = -(probabilities * logProbabilities).sum(1).mean();
                        var generatorLoss = -(advantage * logChosen).mean() - 0.01 * entropy;
                        generatorOptimizer.zero_grad();
                        generatorLoss.backward();
                        generatorOptimizer.step();
                    }
                    double lr = step >= 0.8 * total ? options.LearningRate / 10 : options.LearningRate;
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                    optimizer.zero_grad();
                    segmentationOptimizer?.zero_grad();
                    loss.backward();
                    nn.utils.clip_grad_norm_(detector.parameters(), 10);
                    optimizer.step();
                    segmentationOptimizer?.step();
                    lossValue = loss.item<float>();
                }
                step++;
                double rate = step * batch.Length / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                if (double.IsFinite(lossValue)) curve.Add((step, lossValue));
                metrics.WriteLine(JsonSerializer.Serialize(new { step, epoch, loss = lossValue, masked_loss = maskedValue, images_per_second = Math.Round(rate, 1) }));
                progress?.Report(new DetectorTrainingStatus(step, total, lossValue, maskedValue, rate));
            }
        }
        metrics.Dispose();
        string modelPath = Path.Combine(runDirectory, "model.ffm");
        ModelFile.Save(modelPath, info, StateDict.Export(network));
        Evaluation.TrainingReportWriter.Write(runDirectory, $"Detector training: {info.Architecture} ({(options.Adversarial ? "adversarial masks" : "plain")})", curve, new Dictionary<string, string>
        {
            ["data"] = $"{labels} ({samples.Count} images{(samples.HasMasks ? ", occlusion masks" : "")})",
            ["steps"] = $"{step} (batch {options.BatchSize}, {options.Width}x{options.Height})",
            ["model"] = modelPath,
        });
        return modelPath;
    }

    private static void LoadInit(nn.Module network, string path, bool aofd)
    {
        var (info, weights) = ModelFile.Read(path);
        if (info.Kind != ModelInfo.DetectionKind) throw new InvalidDataException($"--init '{path}' is a {info.Kind} model, not a face detector.");
        // A RetinaFace model initialises the detector part of an occlusion-aware one.
        if (aofd && info.Architecture.Equals(DetectorCatalog.RetinaFace, StringComparison.OrdinalIgnoreCase))
        {
            StateDict.Load(((OcclusionAwareDetector)network).Detector, weights, strict: true, path);
            return;
        }
        StateDict.Load(network, weights, strict: true, path);
    }

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
        var dice = 1 - (2 * (probability * target).sum() + 1) / (probability.sum() + target.sum() + 1);
        return nn.functional.binary_cross_entropy_with_logits(logits, target) + dice;
    }

    /// <summary>Per stride-8 cell of a <paramref name="width"/> x <paramref name="height"/> input: whether most of its pixels are occluded face pixels.</summary>
    private static Tensor OcclusionCells(DetectionSample[] batch, Tensor stride8, int width, int height)
    {
        var cells = batch.SelectMany(s => OcclusionGrid.Cells(s.Occluded!, width, height)).Select(c => c ? 1f : 0f).ToArray();
        return torch.tensor(cells, [batch.Length, 1, stride8.shape[2], stride8.shape[3]]);
    }
}
