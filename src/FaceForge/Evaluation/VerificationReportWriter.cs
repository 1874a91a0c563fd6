using System.Globalization;

namespace FaceForge.Evaluation;

/// <summary>Writes a verification report folder: roc.png, histogram.png, optional loss.png, report.html and report.json.</summary>
public static class VerificationReportWriter
{
    /// <summary>Writes the report; <paramref name="loss"/> is an optional (step, loss) training curve.</summary>
    public static void Write(string directory, string title, VerificationReport report, IReadOnlyList<double> scores, IReadOnlyList<bool> isSame,
        IReadOnlyList<(double Step, double Loss)>? loss = null, IReadOnlyDictionary<string, string>? details = null)
    {
        Directory.CreateDirectory(directory);
        var roc = new ScottPlot.Plot();
        roc.Add.ScatterLine(report.Roc.Select(p => Math.Max(p.Far, 1e-5)).Select(Math.Log10).ToArray(), report.Roc.Select(p => p.Tar).ToArray());
        roc.Title("ROC");
        roc.XLabel("log10 false accept rate");
        roc.YLabel("true accept rate");
        HtmlReport.Save(roc, Path.Combine(directory, "roc.png"));

        var histogram = new ScottPlot.Plot();
        const int bins = 80;
        // Cosines span [-1, 1]; other scores (mutual likelihood) their own range.
        double lo = scores.Count > 0 ? Math.Min(-1, scores.Min()) : -1, hi = scores.Count > 0 ? Math.Max(1, scores.Max()) : 1;
        foreach (var (same, label) in new[] { (true, "same identity"), (false, "different identities") })
        {
            var counts = new double[bins];
            foreach (double score in scores.Where((_, i) => isSame[i] == same))
                counts[Math.Clamp((int)((score - lo) / (hi - lo) * bins), 0, bins - 1)]++;
            var line = histogram.Add.ScatterLine(Enumerable.Range(0, bins).Select(b => lo + (b + 0.5) * (hi - lo) / bins).ToArray(), counts);
            line.LegendText = label;
            line.LineWidth = 2;
        }
        histogram.XLabel(lo < -1 || hi > 1 ? "score" : "cosine similarity");
        histogram.YLabel("pairs");
        histogram.Add.VerticalLine(report.Threshold);
        histogram.ShowLegend();
        histogram.Title("Scores of pairs");
        HtmlReport.Save(histogram, Path.Combine(directory, "histogram.png"));

        if (loss is { Count: > 0 }) TrainingReportWriter.WriteLossPlot(Path.Combine(directory, "loss.png"), loss);

        var page = new HtmlReport(title)
            .Row("pairs", report.Pairs.ToString(CultureInfo.InvariantCulture))
            .Row("accuracy (k-fold)", $"{100 * report.AccuracyMean:0.00} ± {100 * report.AccuracyStd:0.00} %")
            .Row("mean fold threshold", report.Threshold.ToString("0.0000", CultureInfo.InvariantCulture))
            .Row("best single threshold", $"{report.BestThreshold:0.0000} ({100 * report.BestAccuracy:0.00} %)");
        foreach (var (far, tar) in report.TarAtFar)
            page.Row($"TAR at FAR {far}", tar is double value ? $"{100 * value:0.00} %" : $"not measurable ({report.ImpostorPairs} impostor pairs)");
        page.Row("fold accuracies", string.Join(" ", report.FoldAccuracies.Select(a => (100 * a).ToString("0.00", CultureInfo.InvariantCulture))));
        foreach (var (k, v) in details ?? new Dictionary<string, string>()) page.Row(k, v);
        if (loss is { Count: > 0 }) page.Image("Training loss", "loss.png");
        page.Image("ROC", "roc.png").Image("Scores", "histogram.png").Write(directory);
    }
}
