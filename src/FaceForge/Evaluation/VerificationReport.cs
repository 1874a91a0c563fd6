namespace FaceForge.Evaluation;

/// <summary>Results of a k-fold verification protocol.</summary>
public sealed record VerificationReport
{
    /// <summary>Mean accuracy over the scored folds, each fold judged at the threshold that is best on the others (fraction in [0, 1]).</summary>
    public required double AccuracyMean { get; init; }

    /// <summary>Standard deviation of the fold accuracies (population, as LFW reports it).</summary>
    public required double AccuracyStd { get; init; }

    /// <summary>Mean of the per-fold thresholds (cosine similarity).</summary>
    public required double Threshold { get; init; }

    /// <summary>The single threshold that is best over all scored pairs.</summary>
    public required double BestThreshold { get; init; }

    /// <summary>Accuracy at <see cref="BestThreshold"/>.</summary>
    public required double BestAccuracy { get; init; }

    /// <summary>
    /// True accept rate at each false accept rate (keys such as "1e-3"); null where the impostor pairs are fewer than
    /// 1/FAR, so that rate cannot be measured (a single false accept is already a larger fraction).
    /// </summary>
    public required IReadOnlyDictionary<string, double?> TarAtFar { get; init; }

    /// <summary>Impostor (different-person) pairs scored: what TAR at FAR rests on.</summary>
    public required int ImpostorPairs { get; init; }

    /// <summary>Number of scored pairs.</summary>
    public required int Pairs { get; init; }

    /// <summary>Accuracy of each scored fold, in fold order.</summary>
    public required IReadOnlyList<double> FoldAccuracies { get; init; }

    /// <summary>ROC points (false accept rate, true accept rate), by decreasing threshold.</summary>
    public required IReadOnlyList<(double Far, double Tar)> Roc { get; init; }
}
