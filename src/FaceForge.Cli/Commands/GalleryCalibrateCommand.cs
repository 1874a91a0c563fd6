using System.CommandLine;
using FaceForge.Data;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery calibrate`: the open-set threshold for a target FPIR, from faces of people not enrolled.</summary>
internal static class GalleryCalibrateCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var images = new Argument<string[]>("IMAGES") { Description = "Images of people NOT in the gallery (non-mated probes); photos use their largest face.", Arity = ArgumentArity.ZeroOrMore };
        var folder = new Option<string?>("--folder") { Description = "A folder of identity folders of people not in the gallery (instead of IMAGES)." };
        var fpir = new Option<double>("--target-fpir") { Description = "Target false-positive identification rate: the fraction of unknown probes allowed through.", DefaultValueFactory = _ => 0.01 };
        var threshold = new Option<double?>("--threshold") { Description = "Set this threshold (cosine) directly instead of calibrating." };
        var model = GalleryCommand.ModelOverride();
        var detector = GalleryCommand.DetectorOverride();
        var json = new Option<bool>("--json") { Description = "Print JSON: threshold, target_fpir, probes, fpir (measured on the probes)." };
        var command = new Command("calibrate", "Set the gallery's open-set threshold: the lowest that lets at most --target-fpir of unknown probes through (their best score strictly above it).")
        {
            gallery, images, folder, fpir, threshold, model, detector, json,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(gallery)!;
            using var opened = FaceGallery.Open(path);
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(threshold) is double fixedThreshold)
            {
                if (!(fixedThreshold >= -1 && fixedThreshold <= 1)) throw new UserErrorException($"--threshold: {fixedThreshold} is not a cosine in [-1, 1].");
                opened.SetThreshold(fixedThreshold);
                if (parse.GetValue(json)) JsonOutput.Write(writer, new { Threshold = fixedThreshold, TargetFpir = (double?)null });
                else writer.WriteLine($"threshold {fixedThreshold} set");
                return 0;
            }
            double target = parse.GetValue(fpir);
            if (!(target > 0 && target < 1)) throw new UserErrorException($"--target-fpir: {target} is not a rate in (0, 1).");
            if (opened.Count == 0) throw new UserErrorException($"{path}: the gallery is empty; enrol subjects before calibrating.");
            var paths = Paths(parse.GetValue(images) ?? [], parse.GetValue(folder));
            using var inputs = GalleryInputs.Open(opened, path, parse.GetValue(model), parse.GetValue(detector));
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var found = progress.Run("embedding", paths.Count, "img", p => inputs.Faces(paths, (_, faces) => faces.Count == 0 ? faces : [faces.MaxBy(f => f.Box.Area)!], p));
            var probes = found.SelectMany(f => f).Select(f => f.Embedding.Vector).ToList();
            if (probes.Count == 0) throw new UserErrorException("No face found in the calibration images.");
            var faceless = paths.Where((_, i) => found[i].Count == 0).ToList();
            if (faceless.Count > 0)
                progress.Warn($"no face found in {faceless.Count} of {paths.Count} images, not used", faceless);
            // A threshold is stored in the gallery: one fitted to fewer probes than the rate can resolve would let
            // strangers through (one probe "measures" any rate as 0 or 1).
            int needed = FaceGallery.MinimumCalibrationProbes(target);
            if (probes.Count < needed)
                throw new UserErrorException($"FPIR {target} cannot be measured on {probes.Count} unknown probe(s): it needs at least {needed} faces of people not in the gallery. Give more, a larger --target-fpir, or set --threshold T; the gallery's threshold is unchanged.");
            var calibration = opened.Calibrate(probes, target);
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { calibration.Threshold, calibration.TargetFpir, calibration.Probes, calibration.Fpir });
            else writer.WriteLine($"threshold {calibration.Threshold:0.######} for FPIR {target} ({calibration.Fpir:0.####} measured on {calibration.Probes} unknown probes)");
            return 0;
        });
        return command;
    }

    private static List<string> Paths(string[] images, string? folder)
    {
        if ((images.Length > 0) == (folder is not null)) throw new UserErrorException("Give IMAGES or --folder DIR of people not in the gallery (or --threshold T).");
        if (folder is null) return [.. images];
        if (!Directory.Exists(folder)) throw new UserErrorException($"--folder: '{folder}' is not a folder.");
        using var set = ImageFolderDataset.Open(folder);
        if (set.Count == 0) throw new UserErrorException($"--folder: '{folder}' holds no images in identity folders.");
        return Enumerable.Range(0, set.Count).Select(i => Path.Combine(set.Root, set.RelativePath(i))).ToList();
    }
}
