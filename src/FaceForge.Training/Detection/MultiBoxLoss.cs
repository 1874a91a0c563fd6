using FaceForge.Detection;
using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>Per-anchor training targets of a batch.</summary>
/// <param name="Labels">B x N: 1 face, 0 background.</param>
/// <param name="Boxes">B x N x 4 encoded box offsets (valid where Labels is 1).</param>
/// <param name="Landmarks">B x N x 10 encoded landmark offsets.</param>
/// <param name="HasLandmarks">B x N: the matched face has landmarks.</param>
/// <param name="Owner">Per image and anchor, the matched face index or -1.</param>
internal sealed record AnchorTargets(Tensor Labels, Tensor Boxes, Tensor Landmarks, Tensor HasLandmarks, int[][] Owner);

/// <summary>
/// RetinaFace's multi-task loss: anchors matched to faces at IoU 0.35 (each face also takes its best anchor),
/// softmax classification with hard negatives at 7 per positive, smooth-L1 box (weight 2) and landmark regression.
/// </summary>
internal static class MultiBoxLoss
{
    private const float MatchIoU = 0.35f, CentreVariance = 0.1f, SizeVariance = 0.2f;
    private const int NegativesPerPositive = 7;
    private static readonly Scalar NegativesPerPositiveScalar = NegativesPerPositive; // rooted: see RootedScalars

    /// <summary>Targets for faces (boxes and landmarks in pixels) over <paramref name="priors"/> of a <paramref name="width"/> x <paramref name="height"/> input.</summary>
    public static AnchorTargets Match(IReadOnlyList<DetectionSample> batch, float[] priors, int width, int height)
    {
        int n = priors.Length / 4, b = batch.Count;
        var labels = new long[b * n];
        var boxes = new float[b * n * 4];
        var marks = new float[b * n * 10];
        var hasMarks = new bool[b * n];
        var owners = new int[b][];
        for (int i = 0; i < b; i++)
        {
            var faces = batch[i].Boxes;
            var owner = owners[i] = Enumerable.Repeat(-1, n).ToArray();
            var bestIoU = new float[n];
            var bestFace = new int[n];
            var faceBest = new (int Anchor, float IoU)[faces.Count];
            for (int a = 0; a < n; a++)
            {
                var prior = PriorBox(priors, a, width, height);
                for (int f = 0; f < faces.Count; f++)
                {
                    float iou = prior.IoU(new FaceBox(faces[f][0], faces[f][1], faces[f][2], faces[f][3]));
                    if (iou > bestIoU[a]) (bestIoU[a], bestFace[a]) = (iou, f);
                    if (iou > faceBest[f].IoU) faceBest[f] = (a, iou);
                }
            }
            for (int f = 0; f < faces.Count; f++)
                if (faceBest[f].IoU > 0) (bestIoU[faceBest[f].Anchor], bestFace[faceBest[f].Anchor]) = (2, f);
            for (int a = 0; a < n; a++)
            {
                if (bestIoU[a] < MatchIoU) continue;
                int f = bestFace[a], k = i * n + a;
                owner[a] = f;
                labels[k] = 1;
                float pcx = priors[4 * a] * width, pcy = priors[4 * a + 1] * height, pw = priors[4 * a + 2] * width, ph = priors[4 * a + 3] * height;
                var box = faces[f];
                boxes[4 * k] = ((box[0] + box[2]) / 2 - pcx) / (CentreVariance * pw);
                boxes[4 * k + 1] = ((box[1] + box[3]) / 2 - pcy) / (CentreVariance * ph);
                boxes[4 * k + 2] = MathF.Log(Math.Max(1e-3f, box[2] - box[0]) / pw) / SizeVariance;
                boxes[4 * k + 3] = MathF.Log(Math.Max(1e-3f, box[3] - box[1]) / ph) / SizeVariance;
                if (batch[i].Landmarks[f] is { } lm)
                {
                    hasMarks[k] = true;
                    for (int p = 0; p < 5; p++)
                    {
                        marks[10 * k + 2 * p] = (lm[2 * p] - pcx) / (CentreVariance * pw);
                        marks[10 * k + 2 * p + 1] = (lm[2 * p + 1] - pcy) / (CentreVariance * ph);
                    }
                }
            }
        }
        return new AnchorTargets(torch.tensor(labels, [b, n]), torch.tensor(boxes, [b, n, 4]), torch.tensor(marks, [b, n, 10]), torch.tensor(hasMarks, [b, n]), owners);
    }

    private static FaceBox PriorBox(float[] priors, int a, int width, int height)
    {
        float cx = priors[4 * a] * width, cy = priors[4 * a + 1] * height, w = priors[4 * a + 2] * width, h = priors[4 * a + 3] * height;
        return new FaceBox(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
    }

    /// <summary>The loss, and each anchor's classification loss (B x N, detached) for per-face rewards.</summary>
    public static (Tensor Loss, Tensor AnchorClassLoss) Compute(DetectionOutput output, AnchorTargets targets)
    {
        var positive = targets.Labels.gt(RootedScalars.Zero);
        var positives = positive.sum(1); // per image
        var count = positive.sum().clamp_min(RootedScalars.One).to_type(ScalarType.Float32);
        var boxLoss = nn.functional.smooth_l1_loss(output.Boxes[positive], targets.Boxes[positive], reduction: nn.Reduction.Sum) / count;
        var withMarks = positive.logical_and(targets.HasLandmarks);
        var markLoss = nn.functional.smooth_l1_loss(output.Landmarks[withMarks], targets.Landmarks[withMarks], reduction: nn.Reduction.Sum)
            / withMarks.sum().clamp_min(RootedScalars.One).to_type(ScalarType.Float32);
        long anchors = output.Logits.shape[1];
        var perAnchor = nn.functional.cross_entropy(output.Logits.reshape(-1, 2), targets.Labels.reshape(-1), reduction: nn.Reduction.None).view(-1, anchors);
        // Hard negatives: the background anchors with the highest loss, 7 per positive.
        var negativeLoss = perAnchor.detach().masked_fill(positive, RootedScalars.Zero);
        var rank = negativeLoss.argsort(1, descending: true).argsort(1);
        using Scalar lastAnchor = anchors - 1;
        var negatives = rank.lt(positives.mul(NegativesPerPositiveScalar).clamp_max(lastAnchor).unsqueeze(1));
        var classLoss = perAnchor[positive.logical_or(negatives)].sum() / count;
        return (TensorSum.Add(TensorSum.Add(boxLoss.mul(RootedScalars.Two), classLoss), markLoss), perAnchor.detach());
    }
}
