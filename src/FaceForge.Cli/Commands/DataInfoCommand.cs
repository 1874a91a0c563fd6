using System.CommandLine;
using FaceForge.Data;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge data info`: counts identities and images and decodes every image to find bad ones.</summary>
internal static class DataInfoCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("PATH") { Description = "A folder of identity folders, or a RecordIO .rec (with its .idx beside it)." };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Count unreadable images and empty folders instead of failing on the first." };
        var json = new Option<bool>("--json") { Description = "Print JSON: identities, images, format, bad, bad_items, not_read (photos under the folder that are not in the set, and why)." };
        var command = new Command("info", "Summarise a dataset and check that every image decodes.") { path, skipBad, json };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string target = parse.GetValue(path)!;
            bool skip = parse.GetValue(skipBad);
            using var dataset = FaceDataset.Open(target, skipEmpty: skip);
            var report = progress.Run("checking images", dataset.Count, "img", p => DatasetValidation.Check(dataset, skip, p));
            var folder = dataset as ImageFolderDataset;
            var skipped = folder?.SkippedFolders ?? [];
            var unread = folder is null ? [] : UnreadFilesNote.Write(parse.InvocationConfiguration.Error, folder, "counted");
            int emptyFolders = skipped.Count;
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                JsonOutput.Write(output, new { report.Identities, report.Images, report.Format, Bad = report.Bad.Count + emptyFolders, BadItems = report.Bad.Concat(skipped.Select(s => $"{s} (skipped: empty, not readable, or a name that is not valid UTF-8)")),
                    NotRead = unread.Select(u => new { u.Path, u.Reason }) });
            }
            else
            {
                output.WriteLine($"{target}: {report.Format}, {report.Identities} identities, {report.Images} images, {report.Bad.Count + emptyFolders} bad");
                foreach (string bad in report.Bad.Take(20)) output.WriteLine($"  bad: {bad}");
            }
            return 0;
        });
        return command;
    }
}
