using System.CommandLine;
using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Imaging;
using FaceForge.Training.Detection;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge data align`: a folder of identity folders of photos to one of aligned crops, what `train`, `data pack`
/// and `distill` take (InsightFace's training sets are such crops; a user's own photos are not).
/// </summary>
internal static class DataAlignCommand
{
    public static Command Create()
    {
        var images = new Option<string>("--images") { Description = "Folder with one sub-folder of photos per identity.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: the same identity folders, each photo's face as an aligned PNG crop.", Required = true };
        var detector = new Option<string?>("--detector") { Description = "Face detector (FaceForge .ffm/.onnx, YuNet) [default: the built-in RetinaFace]." };
        var template = new Option<string>("--template") { Description = $"Crop template: {string.Join(", ", AlignmentTemplate.All.Select(t => t.Name))}.", DefaultValueFactory = _ => AlignmentTemplate.ArcFace112.Name };
        var pick = new Option<string>("--pick") { Description = "Which face of a photo with several: largest, or centre (nearest the photo's centre: portrait crops such as LFW's).", DefaultValueFactory = _ => "largest" };
        pick.AcceptOnlyFromAmong("largest", "centre");
        var confidence = ModelInputs.Confidence();
        var skipBad = new Option<bool>("--skip-bad") { Description = "Skip unreadable images and empty identity folders instead of failing." };
        var force = new Option<bool>("--force") { Description = "Replace an --out folder that already holds files (the new one is written aside and takes its place once complete)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: identities, images (written + no_face + bad), written, no_face, bad, several_faces, skipped_folders, template, out." };
        var command = new Command("align", "Detect the face in every photo of a folder of identity folders and write it as an aligned crop (photos without a face are listed in OUT/skipped.txt).")
        {
            images, output, detector, template, pick, confidence, skipBad, force, json,
        };
        // Run off the calling thread with the token System.CommandLine cancels on Ctrl+C: the loop stops between
        // batches and the staging folder is deleted.
        command.SetAction((parse, cancel) => Task.Run(() =>
        {
            string root = parse.GetValue(images)!;
            if (!Directory.Exists(root)) throw new UserErrorException(File.Exists(root) ? $"--images: '{root}' is a file; give the folder of identity folders." : $"--images: folder '{root}' does not exist.");
            string target = parse.GetValue(output)!;
            if (File.Exists(target)) throw new UserErrorException($"--out: '{target}' is a file; give a folder.");
            ReplacedOutput.RequireEmptyFolder(target, parse.GetValue(force), "crops");
            ReplacedOutput.RequireApart(target, root, [("--detector", parse.GetValue(detector))]);
            AlignmentTemplate crop;
            try
            {
                crop = AlignmentTemplate.FromName(parse.GetValue(template)!);
            }
            catch (ArgumentException e)
            {
                throw new UserErrorException($"--template: {CliRunner.Message(e)}");
            }
            bool centre = parse.GetValue(pick) == "centre", skip = parse.GetValue(skipBad);
            using var dataset = ImageFolderDataset.Open(root, skipEmpty: skip);
            var unread = UnreadFilesNote.Write(parse.InvocationConfiguration.Error, dataset, "aligned (listed in skipped.txt)");
            using var faces = parse.GetValue(detector) is { } path
                ? ModelInputs.Open(path, "--detector", parse.GetValue(confidence))
                : TorchFaceDetector.OpenBuiltIn(new DetectorOptions { ConfidenceThreshold = parse.GetValue(confidence) });
            if (!faces.HasLandmarks) throw new UserErrorException($"--detector: faces are aligned by their landmarks, and detector '{faces.Name}' gives none (use RetinaFace or YuNet).");
            // Crops are PNGs named after their photos; a name taken already (a.jpg beside a.png) keeps the photo's
            // extension (a.jpg.png), then gets a number, so no crop overwrites another.
            var outputs = new string[dataset.Count];
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < outputs.Length; i++)
            {
                string relative = dataset.RelativePath(i), name = Path.ChangeExtension(relative, ".png");
                if (names.Contains(name)) name = relative + ".png";
                for (int n = 2; names.Contains(name); n++) name = $"{Path.ChangeExtension(relative, null)}-{n}.png";
                names.Add(name);
                outputs[i] = name;
            }
            var skipped = new System.Collections.Concurrent.ConcurrentBag<(string Image, string Reason)>();
            int written = 0;
            // Photos with several faces are listed (several-faces.txt), so the crop taken from each can be checked.
            var severalFaces = new List<(string Image, int Faces)>();
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            // Written whole or not at all: a failure (a full disk, a bad image without --skip-bad) leaves --out as it was.
            AtomicFolder.Write(target, outDir => progress.Run("aligning", dataset.Count, "img", progress =>
            {
                // Decoded in parallel, detected a batch at a time (the TorchSharp detector batches photos of one size).
                RgbImage? Decode(int i)
                {
                    try
                    {
                        var image = ImageDecoder.Decode(dataset.ReadEncoded(i), dataset.Describe(i));
                        if (image.Width >= DetectorOptions.MinImageSide && image.Height >= DetectorOptions.MinImageSide) return image;
                        // Too small for any face (a 1x1 placeholder): no face, like a blank photo.
                        skipped.Add((dataset.RelativePath(i), $"no face found (the image is {image.Width}x{image.Height})"));
                    }
                    catch (Exception e) when (skip && e is InvalidDataException or IOException or UnauthorizedAccessException)
                    {
                        skipped.Add((dataset.RelativePath(i), $"unreadable: {e.Message}"));
                    }
                    catch (UnauthorizedAccessException e)
                    {
                        throw new UserErrorException($"{dataset.Describe(i)}: cannot read: {e.Message} (--skip-bad skips it)");
                    }
                    return null;
                }
                CentreFaceSweep.Sweep(faces, dataset.Count, Decode, (i, image, found) =>
                {
                    var candidates = found.Where(f => f.Landmarks is not null).ToList();
                    if (candidates.Count == 0)
                    {
                        skipped.Add((dataset.RelativePath(i), "no face found"));
                        return;
                    }
                    if (candidates.Count > 1) severalFaces.Add((dataset.RelativePath(i), candidates.Count));
                    var face = centre ? IFaceDetector.NearestCentre(candidates, image.Width, image.Height)! : candidates.MaxBy(f => f.Box.Area)!;
                    string file = Path.Combine(outDir, outputs[i]);
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    ImageEncoder.Save(FaceAligner.Align(image, face.Landmarks!.Value, crop), file);
                    written++;
                }, batch: 16, progress, cancel);
                var list = skipped.OrderBy(s => s.Image, StringComparer.Ordinal).Select(s => $"{ListingField.Escape(s.Image)}\t{s.Reason}")
                    .Concat(dataset.SkippedFolders.Select(f => $"{ListingField.Escape(f)}\tno supported image directly in this identity folder (sub-folders are not read)"))
                    .Concat(unread.Select(u => $"{ListingField.Escape(Path.GetRelativePath(dataset.Root, u.Path))}\t{u.Reason}"));
                AtomicFile.WriteAllText(Path.Combine(outDir, "skipped.txt"), string.Concat(list.Select(line => line + "\n")));
                AtomicFile.WriteAllText(Path.Combine(outDir, "several-faces.txt"), string.Concat(severalFaces.OrderBy(s => s.Image, StringComparer.Ordinal)
                    .Select(s => $"{ListingField.Escape(s.Image)}\t{s.Faces} faces, {(centre ? "the one nearest the centre" : "the largest")} taken\n")));
            }));
            int noFace = skipped.Count(s => s.Reason.StartsWith("no face found", StringComparison.Ordinal));
            var result = new
            {
                Identities = dataset.IdentityCount, Images = dataset.Count, Written = written, NoFace = noFace, Bad = skipped.Count - noFace, SeveralFaces = severalFaces.Count,
                SkippedFolders = dataset.SkippedFolders.Count, Template = crop.Name, Out = Path.GetFullPath(target),
            };
            if (parse.GetValue(json)) JsonOutput.Write(parse.InvocationConfiguration.Output, result);
            else parse.InvocationConfiguration.Output.WriteLine($"aligned {written} of {dataset.Count} photos of {dataset.IdentityCount} identities into {result.Out} ({crop.Name}); " +
                $"{noFace} without a face, {result.Bad} unreadable, {result.SkippedFolders} identity folder(s) without images (listed in skipped.txt); {severalFaces.Count} with several faces ({(centre ? "the one nearest the centre" : "the largest")} taken; listed in several-faces.txt)");
            return 0;
        }, cancel));
        return command;
    }
}
