using System.Globalization;

namespace FaceForge.Evaluation;

/// <summary>Writes an error-versus-reject report folder: erc.png (every quality, both threshold variants, at the first FMR), report.html.</summary>
public static class ErrorVersusRejectReportWriter
{
    /// <summary>Writes the report into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string title, ErrorVersusRejectReport report, IReadOnlyDictionary<string, string>? details = null)
    {
        Directory.CreateDirectory(directory);
        string fmr = report.Thresholds.Keys.First();
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int colour = 0;
        foreach (var (name, curve) in report.Curves)
        {
            var x = curve.Rejected.ToArray();
            var fixedLine = plot.Add.ScatterLine(x, curve.Fixed[fmr]);
            fixedLine.LegendText = $"{name} (fixed threshold)";
            fixedLine.Color = palette.GetColor(colour);
            fixedLine.LineWidth = name == "random" ? 1 : 2;
            var recomputedLine = plot.Add.ScatterLine(x, curve.Recomputed[fmr]);
            recomputedLine.LegendText = $"{name} (threshold recomputed)";
            recomputedLine.Color = palette.GetColor(colour++);
            recomputedLine.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title($"Error versus reject: FNMR at FMR {fmr}");
        plot.XLabel("fraction of genuine pairs rejected (lowest pair quality first)");
        plot.YLabel("FNMR");
        plot.ShowLegend(ScottPlot.Edge.Bottom);
        AtomicFile.WriteAllBytes(Path.Combine(directory, "erc.png"), plot.GetImageBytes(900, 700, ScottPlot.ImageFormat.Png));

        var page = new HtmlReport(title)
            .Row("genuine pairs", report.GenuinePairs.ToString(CultureInfo.InvariantCulture))
            .Row("impostor pairs", report.ImpostorPairs.ToString("N0", CultureInfo.InvariantCulture));
        foreach (var (f, t) in report.Thresholds) page.Row($"threshold at FMR {f} (nothing rejected)", t.ToString("0.0000", CultureInfo.InvariantCulture));
        foreach (var (name, curve) in report.Curves)
            foreach (var f in curve.Fixed.Keys)
            {
                int tenth = curve.Rejected.ToList().FindIndex(r => Math.Abs(r - 0.1) < 1e-9);
                string at10 = tenth < 0 ? "" : $"; FNMR {100 * curve.Fixed[f][0]:0.00} % -> {100 * curve.Fixed[f][tenth]:0.00} % (fixed) / {100 * curve.Recomputed[f][tenth]:0.00} % (recomputed) at 10 % rejected";
                page.Row($"{name}, FMR {f}", $"AUC {curve.AucFixed[f]:0.00000} (fixed), {curve.AucRecomputed[f]:0.00000} (recomputed){at10}");
            }
        foreach (var (k, v) in details ?? new Dictionary<string, string>()) page.Row(k, v);
        page.Image($"FNMR at FMR {fmr} against the fraction rejected", "erc.png").Write(directory);
    }
}
