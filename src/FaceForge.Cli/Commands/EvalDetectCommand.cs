using System.CommandLine;
using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Evaluation;
using FaceForge.Imaging;

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
        var nms = DetectorInputs.Nms();
        var json = new Option<bool>("--json") { Description = "Print JSON: ap, recall, landmark_nme, faces, detections, images." };
        var command = new Command("detect", "Detection accuracy: average precision at an IoU, recall, landmark NME.") { model, images, annotations, iou, confidence, nms, json };
        command.SetAction(parse =>
        {
            string root = parse.GetValue(images)!, file = parse.GetValue(annotations)!;
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            if (!File.Exists(file)) throw new UserErrorException($"--annotations: '{file}' does not exist.");
            var truth = FaceAnnotations.Read(file);
            if (truth.FirstOrDefault(t => !File.Exists(Path.Combine(root, t.Image))) is { Image: { } absent })
                throw new UserErrorException($"{file}: image '{absent}' is not under --images '{root}'.");
            using var detector = DetectorInputs.Open(parse.GetValue(model)!, "--model", parse.GetValue(confidence), parse.GetValue(nms));
            var result = Evaluate(detector, root, truth, parse.GetValue(iou), new ProgressReporter(parse.InvocationConfiguration.Error));
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, new { Ap = result.AveragePrecision, result.Recall, result.LandmarkNme, result.Faces, result.Detections, Images = truth.Count });
            else writer.WriteLine($"AP@{parse.GetValue(iou):0.##} {100 * result.AveragePrecision:0.00} %, recall {100 * result.Recall:0.00} % of {result.Faces} faces; landmark NME {100 * result.LandmarkNme:0.00} %");
            return 0;
        });
        return command;
    }

    internal static DetectionReport Evaluate(IFaceDetector detector, string root, IReadOnlyList<(string Image, List<AnnotatedFace> Faces)> truth, double iou, ProgressReporter progress)
    {
        var found = progress.Run("detecting", truth.Count, "img", p =>
        {
            var lists = new IReadOnlyList<DetectedFace>[truth.Count];
            for (int i = 0; i < truth.Count; i++)
            {
                lists[i] = detector.Detect(ImageDecoder.Decode(Path.Combine(root, truth[i].Image)));
                p.Report(i + 1);
            }
            return lists;
        });
        return DetectionMetrics.Compute(truth.Select(t => (IReadOnlyList<AnnotatedFace>)t.Faces).ToList(), found, iou);
    }
}
