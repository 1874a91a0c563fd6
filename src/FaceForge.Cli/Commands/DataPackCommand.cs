using System.CommandLine;
using FaceForge.Data;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge data pack`: folder of identity folders to InsightFace RecordIO.</summary>
internal static class DataPackCommand
{
    public static Command Create()
    {
        var images = new Option<string>("--images") { Description = "Folder with one sub-folder per identity.", Required = true };
        var output = new Option<string>("--out") { Description = "Output prefix: writes PREFIX.rec and PREFIX.idx.", Required = true };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Skip unreadable images and empty identity folders instead of failing." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("pack", "Pack an image folder into an InsightFace RecordIO pair (.rec + .idx).") { images, output, skipBad, json };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string folder = parse.GetValue(images)!;
            if (!Directory.Exists(folder)) throw new UserErrorException($"--images: folder '{folder}' does not exist.");
            // PREFIX, PREFIX.rec and PREFIX.idx all name the same pair; a bare folder names none.
            string prefix = FaceForge.Data.RecordIo.RecordIoReader.StripExtension(parse.GetValue(output)!);
            if (Path.GetFileName(prefix).Length == 0 || Directory.Exists(prefix))
                throw new UserErrorException($"--out: '{parse.GetValue(output)}' is a folder; give a prefix such as {Path.Combine(parse.GetValue(output)!, "train")} (writes train.rec and train.idx).");
            bool skip = parse.GetValue(skipBad);
            using var dataset = ImageFolderDataset.Open(folder, skipEmpty: skip);
            UnreadFilesNote.Write(parse.InvocationConfiguration.Error, dataset, "packed");
            var (written, skipped) = progress.Run("packing", dataset.Count, "img", p => DatasetPacker.Pack(dataset, prefix, validate: true, skipBad: skip, progress: p));
            var summary = new { Rec = Path.GetFullPath(prefix + ".rec"), Idx = Path.GetFullPath(prefix + ".idx"), Identities = dataset.IdentityCount, Images = written, Bad = skipped + dataset.SkippedFolders.Count };
            if (parse.GetValue(json)) JsonOutput.Write(parse.InvocationConfiguration.Output, summary);
            else parse.InvocationConfiguration.Output.WriteLine($"packed {written} images of {dataset.IdentityCount} identities into {summary.Rec} ({summary.Bad} skipped)");
            return 0;
        });
        return command;
    }
}
