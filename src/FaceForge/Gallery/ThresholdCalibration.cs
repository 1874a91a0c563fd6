namespace FaceForge.Gallery;

/// <summary>Open-set thresholds from the scores of probes whose subject is not enrolled (non-mated searches).</summary>
public static class ThresholdCalibration
{
    /// <summary>
    /// The lowest threshold whose false-positive identification rate on <paramref name="nonMatedScores"/> (each the
    /// best score of one unknown probe) is at most <paramref name="targetFpir"/>: a probe is accepted when its best
    /// score is strictly greater than the threshold. With n scores sorted descending, that is the score at index
    /// floor(FPIR x n), which lets at most floor(FPIR x n) unknown probes through (fewer with ties).
    /// </summary>
    /// <exception cref="ArgumentException">No scores, a score that is not finite, or an FPIR outside (0, 1).</exception>
    public static double CalibrateThreshold(IReadOnlyCollection<double> nonMatedScores, double targetFpir)
    {
        if (!(targetFpir > 0 && targetFpir < 1)) throw new ArgumentException($"The target FPIR must be in (0, 1) (got {targetFpir}).", nameof(targetFpir));
        if (nonMatedScores.Count == 0) throw new ArgumentException("Calibration needs at least one non-mated score (a probe of a subject not in the gallery).", nameof(nonMatedScores));
        if (nonMatedScores.FirstOrDefault(s => !double.IsFinite(s)) is var bad && !double.IsFinite(bad)) throw new ArgumentException($"Non-mated score {bad} is not finite.", nameof(nonMatedScores));
        var sorted = nonMatedScores.OrderByDescending(s => s).ToArray();
        int allowed = (int)Math.Floor(targetFpir * sorted.Length + 1e-9);
        return sorted[Math.Min(allowed, sorted.Length - 1)];
    }

    /// <summary>The fraction of <paramref name="nonMatedScores"/> strictly above <paramref name="threshold"/>.</summary>
    public static double Fpir(IReadOnlyCollection<double> nonMatedScores, double threshold) =>
        nonMatedScores.Count == 0 ? 0 : nonMatedScores.Count(s => s > threshold) / (double)nonMatedScores.Count;
}
