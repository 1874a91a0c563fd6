using System.CommandLine;
using FaceForge.Data;
using FaceForge.Evaluation;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval detect`: AP at IoU 0.5, recall and landmark NME against label.txt annotations.</summary>
internal static class EvalDetectCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Detector: FaceForge model file or ONNX.", Required = true };
        var images = new Option<string>("--images") { Description = "Folder the annotation paths are relative to.", Required = true };
        var annotations = new Option<string>("--annotations") { Description = "RetinaFace/WIDER label.txt.", Required = true };
        var iou = new Option<double>("--iou") { Description = "IoU for a match.", DefaultValueFactory = _ => 0.5 };
        var confidence = new Option<float>("--confidence") { Description = "Minimum score kept (low, so the PR curve is complete).", DefaultValueFactory = _ => 0.02f };
        var nms = ModelInputs.Nms();
        var noBrighten = ModelInputs.NoBrighten();
        var masks = new Option<string?>("--masks") { Description = "Occlusion masks (non-zero where a face is occluded; as data synth --scenes writes): also score an occlusion-aware detector's segmentation (occlusion_iou)." };
        var report = new Option<string?>("--report") { Description = "Write report.html with the precision-recall curve (pr.png) to this folder." }.OutputFolder();
        var json = new Option<bool>("--json") { Description = "Print JSON: ap, recall, landmark_nme, faces, detections, images (and occlusion_iou with --masks)." };
        var command = new Command("detect", "Detection accuracy: average precision at an IoU, recall, landmark NME.") { model, images, annotations, iou, confidence, nms, noBrighten, masks, report, json };
        command.SetAction(parse =>
        {
            string root = parse.GetValue(images)!, file = parse.GetValue(annotations)!;
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            if (!File.Exists(file)) throw new UserErrorException($"--annotations: '{file}' does not exist.");
            if (parse.GetValue(iou) is var overlap && !(overlap > 0 && overlap <= 1)) throw new UserErrorException($"--iou: {overlap} is not an overlap in (0, 1].");
            var truth = FaceAnnotations.Read(file);
            if (truth.FirstOrDefault(t => !File.Exists(Path.Combine(root, t.Image))) is { Image: { } absent })
                throw new UserErrorException($"{file}: image '{absent}' is not under --images '{root}'.");
            using var detector = ModelInputs.Open(parse.GetValue(model)!, "--model", parse.GetValue(confidence), parse.GetValue(nms), noBrighten: parse.GetValue(noBrighten));
            if (parse.GetValue(masks) is { } maskDir && !Directory.Exists(maskDir)) throw new UserErrorException($"--masks: folder '{maskDir}' does not exist.");
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var outcome = progress.Run("detecting", truth.Count, "img", p =>
                DetectionProtocol.Run(detector, root, truth, new DetectionOptions { Iou = parse.GetValue(iou), Masks = parse.GetValue(masks) }, p));
            var result = outcome.Report;
            double? occlusionIoU = outcome.OcclusionIou;
            if (parse.GetValue(report) is { } reportDir)
                DetectionReportWriter.Write(reportDir, $"Detection: {detector.Name} on {Path.GetFileName(file)}", result, new Dictionary<string, string>
                {
                    ["IoU for a match"] = parse.GetValue(iou).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["images"] = truth.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["occlusion IoU"] = occlusionIoU is double o ? $"{100 * o:0.00} %" : "-",
                });
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, new { Ap = result.AveragePrecision, result.Recall, result.LandmarkNme, result.Faces, result.Detections, Images = truth.Count, OcclusionIou = occlusionIoU });
            else writer.WriteLine($"AP@{parse.GetValue(iou):0.##} {100 * result.AveragePrecision:0.00} %, recall {100 * result.Recall:0.00} % of {result.Faces} faces; landmark NME {100 * result.LandmarkNme:0.00} %"
                + (occlusionIoU is double o ? $"; occlusion IoU {100 * o:0.00} %" : ""));
            return 0;
        });
        return command;
    }
}
