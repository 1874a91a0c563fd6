using System.Globalization;

namespace FaceForge.Evaluation;

/// <summary>Writes a detection report folder: pr.png (precision against recall) and report.html.</summary>
public static class DetectionReportWriter
{
    /// <summary>Writes the report of <paramref name="report"/> into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string title, DetectionReport report, IReadOnlyDictionary<string, string>? details = null)
    {
        Directory.CreateDirectory(directory);
        var pr = new ScottPlot.Plot();
        if (report.RecallSteps.Length > 0) pr.Add.ScatterLine(report.RecallSteps, report.Precision);
        pr.Title($"Precision-recall (AP {100 * report.AveragePrecision:0.00} %)");
        pr.XLabel("recall");
        pr.YLabel("precision");
        pr.Axes.SetLimits(0, 1, 0, 1.02);
        HtmlReport.Save(pr, Path.Combine(directory, "pr.png"));
        var page = new HtmlReport(title)
            .Row("average precision", $"{100 * report.AveragePrecision:0.00} %")
            .Row("recall", $"{100 * report.Recall:0.00} % of {report.Faces.ToString(CultureInfo.InvariantCulture)} faces")
            .Row("detections scored", report.Detections.ToString(CultureInfo.InvariantCulture))
            .Row("landmark NME", double.IsNaN(report.LandmarkNme) ? "-" : $"{100 * report.LandmarkNme:0.00} %");
        foreach (var (k, v) in details ?? new Dictionary<string, string>()) page.Row(k, v);
        page.Image("Precision and recall", "pr.png").Write(directory);
    }
}
