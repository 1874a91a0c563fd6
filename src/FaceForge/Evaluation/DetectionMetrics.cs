using FaceForge.Data;
using FaceForge.Detection;

namespace FaceForge.Evaluation;

/// <summary>Detection quality over a set of images.</summary>
/// <param name="AveragePrecision">Area under the precision-recall curve (all-point interpolation, as VOC 2010+).</param>
/// <param name="Recall">Fraction of annotated faces matched by some detection.</param>
/// <param name="Faces">Annotated faces.</param>
/// <param name="Detections">Detections scored.</param>
/// <param name="LandmarkNme">Mean landmark NME (by inter-ocular distance) of matched faces with landmarks on both sides, or NaN.</param>
/// <param name="Precision">Precision at each recall step (for the PR curve).</param>
/// <param name="RecallSteps">Recall at each detection, best score first.</param>
public sealed record DetectionReport(double AveragePrecision, double Recall, int Faces, int Detections, double LandmarkNme, double[] Precision, double[] RecallSteps);

/// <summary>Average precision at an IoU threshold, recall and landmark error.</summary>
public static class DetectionMetrics
{
    /// <summary>
    /// Scores <paramref name="detections"/> against <paramref name="truth"/> (same image order): detections, best
    /// score first over all images, each match the unmatched annotated face of highest IoU if that IoU reaches
    /// <paramref name="iouThreshold"/>; the rest are false positives.
    /// </summary>
    public static DetectionReport Compute(IReadOnlyList<IReadOnlyList<AnnotatedFace>> truth, IReadOnlyList<IReadOnlyList<DetectedFace>> detections, double iouThreshold = 0.5)
    {
        if (truth.Count != detections.Count) throw new ArgumentException($"{truth.Count} annotated images but {detections.Count} detection lists.");
        int faces = truth.Sum(t => t.Count);
        var all = detections.SelectMany((list, image) => list.Select(d => (Image: image, Face: d))).OrderByDescending(x => x.Face.Score).ToList();
        var matched = truth.Select(t => new bool[t.Count]).ToArray();
        var precision = new double[all.Count];
        var recall = new double[all.Count];
        int tp = 0;
        var nme = new List<double>();
        for (int i = 0; i < all.Count; i++)
        {
            var (image, face) = all[i];
            int best = -1;
            double bestIoU = iouThreshold;
            for (int g = 0; g < truth[image].Count; g++)
            {
                if (matched[image][g]) continue;
                double iou = face.Box.IoU(truth[image][g].Box);
                if (iou >= bestIoU) (best, bestIoU) = (g, iou);
            }
            if (best >= 0)
            {
                matched[image][best] = true;
                tp++;
                if (face.Landmarks is { } p && truth[image][best].Landmarks is { } t) nme.Add(LandmarkMetrics.Nme(p, t));
            }
            precision[i] = tp / (double)(i + 1);
            recall[i] = faces == 0 ? 0 : tp / (double)faces;
        }
        // All-point interpolation: precision made monotone from the right, summed over recall increments.
        double ap = 0, previousRecall = 0;
        var envelope = (double[])precision.Clone();
        for (int i = envelope.Length - 2; i >= 0; i--) envelope[i] = Math.Max(envelope[i], envelope[i + 1]);
        for (int i = 0; i < all.Count; i++)
        {
            ap += (recall[i] - previousRecall) * envelope[i];
            previousRecall = recall[i];
        }
        return new DetectionReport(ap, faces == 0 ? 0 : tp / (double)faces, faces, all.Count, nme.Count > 0 ? nme.Average() : double.NaN, precision, recall);
    }
}
