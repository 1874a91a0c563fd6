using System.Net;
using System.Text;

namespace FaceForge.Evaluation;

/// <summary>The one page layout of FaceForge's reports: a title, a table of figures, then sections with PNG plots.</summary>
internal sealed class HtmlReport(string title)
{
    private readonly List<(string Key, string Value)> _rows = [];
    private readonly List<(string Heading, string Image)> _images = [];

    public HtmlReport Row(string key, string value)
    {
        _rows.Add((key, value));
        return this;
    }

    public HtmlReport Image(string heading, string fileName)
    {
        _images.Add((heading, fileName));
        return this;
    }

    /// <summary>Writes report.html into <paramref name="directory"/> (atomically).</summary>
    public void Write(string directory)
    {
        var html = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(title))
            .Append("</title><style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td,th{padding:4px 12px;text-align:left}</style></head><body><h1>")
            .Append(WebUtility.HtmlEncode(title)).Append("</h1><table>");
        foreach (var (key, value) in _rows)
            html.Append("<tr><th>").Append(WebUtility.HtmlEncode(key)).Append("</th><td>").Append(WebUtility.HtmlEncode(value)).Append("</td></tr>");
        html.Append("</table>");
        foreach (var (heading, image) in _images)
            html.Append("<h2>").Append(WebUtility.HtmlEncode(heading)).Append("</h2><img src=\"").Append(WebUtility.HtmlEncode(image)).Append("\">");
        AtomicFile.WriteAllText(Path.Combine(directory, "report.html"), html.Append("</body></html>").ToString());
    }

    /// <summary>Saves <paramref name="plot"/> as an 800x500 PNG.</summary>
    public static void Save(ScottPlot.Plot plot, string path) => AtomicFile.WriteAllBytes(path, plot.GetImageBytes(800, 500, ScottPlot.ImageFormat.Png));
}
