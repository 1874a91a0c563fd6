using System.CommandLine;
using FaceForge.Alignment;
using FaceForge.Evaluation;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval landmarks`: detection rate and landmark NME against a landmarks file (e.g. LFW's).</summary>
internal static class EvalLandmarksCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Detector: FaceForge model file or ONNX (with landmarks).", Required = true };
        var images = new Option<string>("--images") { Description = "Image root the landmarks file refers to.", Required = true };
        var landmarks = new Option<string>("--landmarks") { Description = "Reference landmarks (path x1 y1 … x5 y5).", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Score only the first N entries." };
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Images detected per batch.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var confidence = ModelInputs.Confidence();
        var nms = ModelInputs.Nms();
        var noBrighten = ModelInputs.NoBrighten();
        var json = new Option<bool>("--json") { Description = "Print JSON: detection_rate, nme, nme_median, images, found, ms_per_image." };
        var command = new Command("landmarks", "Detect the face nearest each image's centre and compare its five landmarks with a reference (NME by inter-ocular distance).")
        {
            model, images, landmarks, limit, batch, confidence, nms, noBrighten, json,
        };
        command.SetAction(parse =>
        {
            string root = parse.GetValue(images)!;
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            string file = parse.GetValue(landmarks)!;
            if (!File.Exists(file)) throw new UserErrorException($"--landmarks: '{file}' does not exist.");
            var reference = LandmarksFile.Read(file);
            if (parse.GetValue(limit) is int n && n < 1) throw new UserErrorException($"--limit: {n} would score no image (at least 1).");
            var keys = reference.Keys.Take(parse.GetValue(limit) ?? int.MaxValue).ToList();
            var missing = keys.FirstOrDefault(k => !File.Exists(Path.Combine(root, k)));
            if (missing is not null) throw new UserErrorException($"{file}: image '{missing}' is not under --images '{root}'.");
            using var detector = ModelInputs.Open(parse.GetValue(model)!, "--model", parse.GetValue(confidence), parse.GetValue(nms), noBrighten: parse.GetValue(noBrighten));
            if (!detector.HasLandmarks) throw new UserErrorException($"Detector '{detector.Name}' gives no landmarks.");
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var result = progress.Run("detecting", keys.Count, "img", p => LandmarkProtocol.Run(detector, root, reference, keys, parse.GetValue(batch), p));
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else writer.WriteLine($"face found in {result.Found} / {result.Images} images ({100 * result.DetectionRate:0.00} %); NME {100 * result.Nme:0.000} % (median {100 * result.NmeMedian:0.000} %); {result.MsPerImage} ms per image including decoding");
            return 0;
        });
        return command;
    }
}
