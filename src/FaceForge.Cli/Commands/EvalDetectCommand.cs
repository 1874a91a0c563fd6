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
        var masks = new Option<string?>("--masks") { Description = "Occlusion masks (non-zero where a face is occluded; as data synth --scenes writes): also score an occlusion-aware detector's segmentation (occlusion_iou)." };
        var report = new Option<string?>("--report") { Description = "Write report.html with the precision-recall curve (pr.png) to this folder." };
        var json = new Option<bool>("--json") { Description = "Print JSON: ap, recall, landmark_nme, faces, detections, images (and occlusion_iou with --masks)." };
        var command = new Command("detect", "Detection accuracy: average precision at an IoU, recall, landmark NME.") { model, images, annotations, iou, confidence, nms, masks, report, json };
        command.SetAction(parse =>
        {
            string root = parse.GetValue(images)!, file = parse.GetValue(annotations)!;
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            if (!File.Exists(file)) throw new UserErrorException($"--annotations: '{file}' does not exist.");
            var truth = FaceAnnotations.Read(file);
            if (truth.FirstOrDefault(t => !File.Exists(Path.Combine(root, t.Image))) is { Image: { } absent })
                throw new UserErrorException($"{file}: image '{absent}' is not under --images '{root}'.");
            using var detector = DetectorInputs.Open(parse.GetValue(model)!, "--model", parse.GetValue(confidence), parse.GetValue(nms));
            var occlusion = parse.GetValue(masks) is { } maskDir ? new OcclusionScore(detector, maskDir) : null;
            var result = Evaluate(detector, root, truth, parse.GetValue(iou), new ProgressReporter(parse.InvocationConfiguration.Error), occlusion);
            double? occlusionIoU = occlusion?.IoU;
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

    /// <summary>IoU, over all images' stride-8 cells, of predicted occlusion (p &gt; 0.5) and the masks' (most pixels occluded).</summary>
    private sealed class OcclusionScore
    {
        private readonly FaceForge.Training.Detection.TorchFaceDetector _detector;
        private readonly string _masks;
        private long _intersection, _union;

        public OcclusionScore(IFaceDetector detector, string masks)
        {
            _detector = detector as FaceForge.Training.Detection.TorchFaceDetector is { PredictsOcclusion: true } torchDetector ? torchDetector
                : throw new UserErrorException($"--masks: detector '{detector.Name}' has no occlusion branch (train one with faceforge train-detector).");
            _masks = Directory.Exists(masks) ? masks : throw new UserErrorException($"--masks: folder '{masks}' does not exist.");
        }

        public double IoU => _union == 0 ? 1 : _intersection / (double)_union;

        public void Add(string name, RgbImage image)
        {
            string maskPath = Path.Combine(_masks, Path.GetFileName(name));
            if (!File.Exists(maskPath)) throw new UserErrorException($"--masks: no mask '{maskPath}' for '{name}'.");
            var mask = ImageDecoder.Decode(maskPath);
            if (mask.Width != image.Width || mask.Height != image.Height) throw new UserErrorException($"--masks: '{maskPath}' is {mask.Width}x{mask.Height}, its image {image.Width}x{image.Height}.");
            var predicted = _detector.OcclusionProbabilities(image)!;
            var occluded = new bool[image.Width * image.Height];
            for (int p = 0; p < occluded.Length; p++) occluded[p] = mask.Pixels[3 * p] > 0;
            var truth = OcclusionGrid.Cells(occluded, image.Width, image.Height);
            for (int cell = 0; cell < truth.Length; cell++)
            {
                bool guess = predicted[cell] > 0.5f;
                if (truth[cell] && guess) _intersection++;
                if (truth[cell] || guess) _union++;
            }
        }
    }

    /// <summary>Detects in every annotated image (each decoded once, also for the occlusion score) and scores the detections.</summary>
    private static DetectionReport Evaluate(IFaceDetector detector, string root, IReadOnlyList<(string Image, List<AnnotatedFace> Faces)> truth, double iou,
        ProgressReporter progress, OcclusionScore? occlusion)
    {
        var found = progress.Run("detecting", truth.Count, "img", p =>
        {
            var lists = new IReadOnlyList<DetectedFace>[truth.Count];
            for (int i = 0; i < truth.Count; i++)
            {
                var image = ImageDecoder.Decode(Path.Combine(root, truth[i].Image));
                lists[i] = detector.Detect(image);
                occlusion?.Add(truth[i].Image, image);
                p.Report(i + 1);
            }
            return lists;
        });
        return DetectionMetrics.Compute(truth.Select(t => (IReadOnlyList<AnnotatedFace>)t.Faces).ToList(), found, iou);
    }
}
