namespace FaceForge.Evaluation;

/// <summary>Writes a training run's loss.png and report.html.</summary>
public static class TrainingReportWriter
{
    /// <summary>Writes the loss curve and a summary table into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string title, IReadOnlyList<(double Step, double Loss)> losses, IReadOnlyDictionary<string, string> details)
    {
        Directory.CreateDirectory(directory);
        if (losses.Count > 0) WriteLossPlot(Path.Combine(directory, "loss.png"), losses);
        var report = new HtmlReport(title);
        foreach (var (k, v) in details) report.Row(k, v);
        if (losses.Count > 0) report.Image("Training loss", "loss.png");
        report.Write(directory);
    }

    /// <summary>Writes the loss curve as a PNG.</summary>
    internal static void WriteLossPlot(string path, IReadOnlyList<(double Step, double Loss)> losses)
    {
        var plot = new ScottPlot.Plot();
        plot.Add.ScatterLine(losses.Select(p => p.Step).ToArray(), losses.Select(p => p.Loss).ToArray());
        plot.Title("Training loss");
        plot.XLabel("step");
        plot.YLabel("loss");
        HtmlReport.Save(plot, path);
    }
}
