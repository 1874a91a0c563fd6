namespace FaceForge.Evaluation;

/// <summary>Writes a training run's loss.png and report.html.</summary>
public static class TrainingReportWriter
{
    /// <summary>Writes the loss curve and a summary table into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string title, IReadOnlyList<(double Step, double Loss)> losses, IReadOnlyDictionary<string, string> details)
    {
        Directory.CreateDirectory(directory);
        if (losses.Count > 0) WriteLossPlot(Path.Combine(directory, "loss.png"), losses);
        var html = new System.Text.StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>")
            .Append(System.Net.WebUtility.HtmlEncode(title)).Append("</title></head><body style=\"font-family:sans-serif\"><h1>")
            .Append(System.Net.WebUtility.HtmlEncode(title)).Append("</h1><table>");
        foreach (var (k, v) in details)
            html.Append("<tr><th align=left>").Append(System.Net.WebUtility.HtmlEncode(k)).Append("</th><td>").Append(System.Net.WebUtility.HtmlEncode(v)).Append("</td></tr>");
        html.Append("</table>").Append(losses.Count > 0 ? "<img src=\"loss.png\">" : "").Append("</body></html>");
        AtomicFile.WriteAllText(Path.Combine(directory, "report.html"), html.ToString());
    }

    /// <summary>Writes the loss curve as a PNG.</summary>
    internal static void WriteLossPlot(string path, IReadOnlyList<(double Step, double Loss)> losses)
    {
        var plot = new ScottPlot.Plot();
        plot.Add.ScatterLine(losses.Select(p => p.Step).ToArray(), losses.Select(p => p.Loss).ToArray());
        plot.Title("Training loss");
        plot.XLabel("step");
        plot.YLabel("loss");
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(800, 500, ScottPlot.ImageFormat.Png));
    }
}
