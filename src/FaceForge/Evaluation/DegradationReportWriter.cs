using System.Globalization;

namespace FaceForge.Evaluation;

/// <summary>Writes a degradation-study folder: quality.png (mean quality against severity), accuracy.png (cosine and MLS), report.html.</summary>
public static class DegradationReportWriter
{
    /// <summary>Writes the report into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string title, DegradationReport report)
    {
        Directory.CreateDirectory(directory);
        var clean = report.Results[0];
        var kinds = report.Results.Skip(1).GroupBy(r => r.Degradation!.Kind).ToList();
        var page = new HtmlReport(title);
        if (clean.MeanQuality is not null)
        {
            var plot = new ScottPlot.Plot();
            foreach (var g in kinds)
            {
                var line = plot.Add.ScatterLine(new[] { 0.0 }.Concat(g.Select(r => (double)r.Degradation!.Severity)).ToArray(),
                    new[] { clean.MeanQuality.Value }.Concat(g.Select(r => r.MeanQuality!.Value)).ToArray());
                line.LegendText = g.Key.ToString().ToLowerInvariant();
                line.LineWidth = 2;
            }
            plot.XLabel("severity (0 = clean)");
            plot.YLabel("mean quality");
            plot.ShowLegend();
            plot.Title("Quality against degradation");
            HtmlReport.Save(plot, Path.Combine(directory, "quality.png"));
            page.Image("Mean quality against severity", "quality.png");
        }
        var accuracy = new ScottPlot.Plot();
        foreach (var g in kinds)
        {
            var x = new[] { 0.0 }.Concat(g.Select(r => (double)r.Degradation!.Severity)).ToArray();
            var cos = accuracy.Add.ScatterLine(x, new[] { clean.AccuracyCosine }.Concat(g.Select(r => r.AccuracyCosine)).ToArray());
            cos.LegendText = $"{g.Key.ToString().ToLowerInvariant()} (cosine)";
            if (clean.AccuracyMls is null) continue;
            var mls = accuracy.Add.ScatterLine(x, new[] { clean.AccuracyMls.Value }.Concat(g.Select(r => r.AccuracyMls!.Value)).ToArray());
            mls.LegendText = $"{g.Key.ToString().ToLowerInvariant()} (MLS)";
            mls.Color = cos.Color;
            mls.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        accuracy.XLabel("severity of the second image's degradation (0 = clean)");
        accuracy.YLabel("verification accuracy");
        accuracy.ShowLegend();
        accuracy.Title("Verification with one image of each pair degraded");
        HtmlReport.Save(accuracy, Path.Combine(directory, "accuracy.png"));
        Directory.CreateDirectory(Path.Combine(directory, "examples"));
        for (int i = 0; i < report.Examples.Count; i++)
        {
            string name = (report.Results[i].Degradation?.Name ?? "clean").Replace(' ', '-');
            Imaging.ImageEncoder.Save(report.Examples[i], Path.Combine(directory, "examples", name + ".png"));
            page.Image(report.Results[i].Degradation?.Name ?? "clean (first image of the pairs, as the model sees it)", $"examples/{name}.png");
        }
        foreach (var r in report.Results)
            page.Row(r.Degradation?.Name ?? "clean", $"quality {Format(r.MeanQuality, "0.000")}; {Accuracies(r.AccuracyCosine, r.AccuracyMls)}");
        if (report.Mixed is { } mixed)
            page.Row($"mixed: the {mixed.Degradations} degradations shared out over the pairs", Accuracies(mixed.AccuracyCosine, mixed.AccuracyMls));
        foreach (var (kind, rho) in report.Spearman) page.Row($"Spearman (severity, quality): {kind}", Format(rho, "0.000"));
        foreach (var id in report.Identification)
            page.Row($"rank-1, templates clean + {id.Degradation.Name}", $"{Rank1(id.Rank1Mean, id.Rank1Fused)}{Rank1Mls(id.Rank1MeanMls, id.Rank1FusedMls)} ({id.Identities} identities, {id.Probes} probes)");
        if (report.Mixed is { Rank1Mean: double mixedMean } m)
            page.Row($"rank-1, templates clean + mixed: the {m.Degradations} degradations shared out over the identities", $"{Rank1(mixedMean, m.Rank1Fused)}{Rank1Mls(m.Rank1MeanMls, m.Rank1FusedMls)} ({m.Identities} identities, {m.Probes} probes)");
        page.Image("Verification accuracy against severity", "accuracy.png").Write(directory);
    }

    /// <summary>"accuracy cosine 97.50 %, MLS 98.00 %" (no MLS part without one), as the report and the CLI print a verification row.</summary>
    public static string Accuracies(double cosine, double? mls) => $"accuracy cosine {100 * cosine:0.00} %{(mls is double m ? $", MLS {100 * m:0.00} %" : "")}";

    /// <summary>"mean 97.50 %, fused 98.00 %" (no fused part without one), as the report and the CLI print a rank-1 row.</summary>
    public static string Rank1(double mean, double? fused) => $"mean {100 * mean:0.00} %{(fused is double f ? $", fused {100 * f:0.00} %" : "")}";

    /// <summary>The same scored by mutual likelihood ("; MLS: mean 97.50 %, fused 98.00 %"), empty without an uncertainty head.</summary>
    public static string Rank1Mls(double? mean, double? fused) => mean is double m ? $"; MLS: {Rank1(m, fused)}" : "";

    private static string Format(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
