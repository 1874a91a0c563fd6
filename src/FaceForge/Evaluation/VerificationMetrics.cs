namespace FaceForge.Evaluation;

/// <summary>
/// The LFW protocol on similarity scores: for each fold, pick the threshold with the best accuracy on the other
/// folds and measure the fold at it; also the best single threshold, TAR at fixed FAR and the ROC.
/// </summary>
public static class VerificationMetrics
{
    /// <summary>False accept rates reported by default.</summary>
    public static IReadOnlyList<double> DefaultFars { get; } = [1e-3, 1e-4];

    /// <summary>Computes the report; pairs whose fold is not in <paramref name="folds"/> (when given) are ignored.</summary>
    public static VerificationReport Compute(IReadOnlyList<double> scores, IReadOnlyList<bool> isSame, IReadOnlyList<int> foldOfPair, IReadOnlySet<int>? folds = null, IReadOnlyList<double>? fars = null)
    {
        if (scores.Count != isSame.Count || scores.Count != foldOfPair.Count)
            throw new ArgumentException($"Need as many scores ({scores.Count}) as labels ({isSame.Count}) and folds ({foldOfPair.Count}).");
        var used = Enumerable.Range(0, scores.Count).Where(i => folds is null || folds.Contains(foldOfPair[i])).ToArray();
        if (used.Length == 0) throw new ArgumentException("No pairs in the selected folds.");
        var foldIds = used.Select(i => foldOfPair[i]).Distinct().Order().ToArray();
        var accuracies = new List<double>();
        var thresholds = new List<double>();
        foreach (int fold in foldIds)
        {
            var train = used.Where(i => foldOfPair[i] != fold).ToArray();
            var test = used.Where(i => foldOfPair[i] == fold).ToArray();
            double threshold = train.Length > 0 ? BestThreshold(train, scores, isSame).Threshold : BestThreshold(test, scores, isSame).Threshold;
            thresholds.Add(threshold);
            accuracies.Add(Accuracy(test, scores, isSame, threshold));
        }
        double mean = accuracies.Average();
        double std = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / accuracies.Count);
        var (best, bestAccuracy) = BestThreshold(used, scores, isSame);
        var roc = Roc(used, scores, isSame);
        int impostors = used.Count(i => !isSame[i]);
        var tar = (fars ?? DefaultFars).ToDictionary(f => f.ToString("0e0", System.Globalization.CultureInfo.InvariantCulture).Replace("e-0", "e-"),
            f => impostors * f < 1 - 1e-9 ? (double?)null : TarAt(roc, f));
        return new VerificationReport
        {
            AccuracyMean = mean, AccuracyStd = std, Threshold = thresholds.Average(), BestThreshold = best, BestAccuracy = bestAccuracy,
            TarAtFar = tar, ImpostorPairs = impostors, Pairs = used.Length, FoldAccuracies = accuracies, Roc = roc,
        };
    }

    /// <summary>The threshold (midway between neighbouring scores) with the highest accuracy on <paramref name="pairs"/>.</summary>
    internal static (double Threshold, double Accuracy) BestThreshold(int[] pairs, IReadOnlyList<double> scores, IReadOnlyList<bool> isSame)
    {
        // Sweep thresholds from above the highest score downwards; "same" is predicted for score > threshold.
        var order = pairs.OrderByDescending(i => scores[i]).ToArray();
        int positives = order.Count(i => isSame[i]);
        int correct = order.Length - positives; // everything predicted different
        int bestCorrect = correct;
        double bestThreshold = order.Length > 0 ? scores[order[0]] + 1e-6 : 0;
        for (int k = 0; k < order.Length; k++)
        {
            correct += isSame[order[k]] ? 1 : -1;
            if (k + 1 < order.Length && scores[order[k + 1]] == scores[order[k]]) continue; // ties move together
            if (correct > bestCorrect)
            {
                bestCorrect = correct;
                bestThreshold = k + 1 < order.Length ? (scores[order[k]] + scores[order[k + 1]]) / 2 : scores[order[k]] - 1e-6;
            }
        }
        return (bestThreshold, bestCorrect / (double)Math.Max(1, order.Length));
    }

    private static double Accuracy(int[] pairs, IReadOnlyList<double> scores, IReadOnlyList<bool> isSame, double threshold) =>
        pairs.Count(i => (scores[i] > threshold) == isSame[i]) / (double)pairs.Length;

    private static List<(double Far, double Tar)> Roc(int[] pairs, IReadOnlyList<double> scores, IReadOnlyList<bool> isSame)
    {
        var order = pairs.OrderByDescending(i => scores[i]).ToArray();
        int positives = Math.Max(1, order.Count(i => isSame[i])), negatives = Math.Max(1, order.Length - order.Count(i => isSame[i]));
        var roc = new List<(double, double)> { (0, 0) };
        int tp = 0, fp = 0;
        for (int k = 0; k < order.Length; k++)
        {
            if (isSame[order[k]]) tp++; else fp++;
            if (k + 1 < order.Length && scores[order[k + 1]] == scores[order[k]]) continue;
            roc.Add((fp / (double)negatives, tp / (double)positives));
        }
        return roc;
    }

    /// <summary>The highest TAR whose FAR does not exceed <paramref name="far"/>.</summary>
    private static double TarAt(List<(double Far, double Tar)> roc, double far) => roc.Where(p => p.Far <= far).Max(p => p.Tar);
}
