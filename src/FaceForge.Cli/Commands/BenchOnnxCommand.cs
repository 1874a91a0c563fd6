using System.CommandLine;
using System.Diagnostics;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Imaging;
using FaceForge.Training.Detection;
using FaceForge.Training.Embedding;
using FaceForge.Training.Export;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench onnx`: an exported model against its .ffm on real images, side by side in one run: the cosine
/// between the two runtimes' embeddings of every image, images per second of each (batches alternate between them),
/// and for a detector the largest box and landmark difference in pixels.
/// </summary>
internal static class BenchOnnxCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge recognition model (.ffm).", Required = true };
        var onnx = new Option<string?>("--onnx") { Description = "Its ONNX export [default: exported now to a temporary file]." };
        var images = new Option<string>("--images") { Description = "Image root (LFW's images folder).", Required = true };
        var landmarks = new Option<string>("--landmarks") { Description = "Landmarks file (path x1 y1 … x5 y5) that aligns the images; every image it lists is embedded.", Required = true };
        var limit = new Option<int>("--limit") { Description = "Embed only the first N images of the landmarks file (0: all).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var batch = new Option<int>("--batch-size") { Description = "Crops per forward pass.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var detector = new Option<string?>("--detector") { Description = "Also compare this FaceForge detector (.ffm) with its ONNX export on the first --detector-images photos." };
        var detectorImages = new Option<int>("--detector-images") { Description = "Photos for the detector comparison.", DefaultValueFactory = _ => 300 }.AtLeast(1);
        var json = new Option<bool>("--json") { Description = "Print JSON: images, min_cosine, mean_cosine, below_0_99999, torch_images_per_second, onnx_images_per_second, detector {…}." };
        var command = new Command("onnx", "Compare an exported ONNX model with its .ffm on real images: embedding cosine per image, throughput of each runtime, detector box and landmark differences.")
        {
            model, onnx, images, landmarks, limit, batch, detector, detectorImages, json,
        };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string modelPath = parse.GetValue(model)!, root = parse.GetValue(images)!, landmarksPath = parse.GetValue(landmarks)!;
            if (!File.Exists(modelPath)) throw new UserErrorException($"--model: '{modelPath}' does not exist.");
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            if (!File.Exists(landmarksPath)) throw new UserErrorException($"--landmarks: '{landmarksPath}' does not exist.");
            string scratch = Path.Combine(Path.GetTempPath(), $"faceforge-bench-onnx-{Environment.ProcessId}");
            Directory.CreateDirectory(scratch);
            try
            {
                string onnxPath = parse.GetValue(onnx) ?? Export(modelPath, Path.Combine(scratch, "model.onnx"));
                using IFaceEmbedder torchEmbedder = TorchFaceEmbedder.Open(modelPath);
                using IFaceEmbedder onnxEmbedder = new OnnxFaceEmbedder(onnxPath);
                var points = LandmarksFile.Read(landmarksPath);
                var names = points.Keys.Order(StringComparer.Ordinal).ToList();
                if (parse.GetValue(limit) > 0) names = names.Take(parse.GetValue(limit)).ToList();
                var source = new AlignedImageSource(root, points, torchEmbedder.Info.AlignmentTemplate);
                int size = parse.GetValue(batch);
                var torchClock = new Stopwatch();
                var onnxClock = new Stopwatch();
                double minCosine = 1, sumCosine = 0;
                int below = 0;
                string worst = "";
                progress.Run("embedding with both runtimes", names.Count, "img", report =>
                {
                    for (int start = 0; start < names.Count; start += size)
                    {
                        var chunk = names.Skip(start).Take(size).ToArray();
                        var crops = chunk.Select(source.Load).ToArray();
                        // Alternate which runtime goes first, so neither always meets a cold cache.
                        bool torchFirst = start / size % 2 == 0;
                        float[][] a = [], b = [];
                        for (int turn = 0; turn < 2; turn++)
                        {
                            if (turn == 0 == torchFirst) { torchClock.Start(); a = torchEmbedder.Embed(crops, FlipMode.None); torchClock.Stop(); }
                            else { onnxClock.Start(); b = onnxEmbedder.Embed(crops, FlipMode.None); onnxClock.Stop(); }
                        }
                        for (int i = 0; i < chunk.Length; i++)
                        {
                            double cosine = 0;
                            for (int k = 0; k < a[i].Length; k++) cosine += (double)a[i][k] * b[i][k];
                            sumCosine += cosine;
                            if (cosine < 0.99999) below++;
                            if (cosine < minCosine) (minCosine, worst) = (cosine, chunk[i]);
                        }
                        report.Report(Math.Min(names.Count, start + size));
                    }
                });
                object? detection = parse.GetValue(detector) is { } detectorPath ? CompareDetectors(detectorPath, root, names, parse.GetValue(detectorImages), scratch, progress) : null;
                var result = new
                {
                    Model = modelPath, Onnx = onnxPath, Images = names.Count, MinCosine = minCosine, MeanCosine = sumCosine / names.Count, Below0_99999 = below, WorstImage = worst,
                    TorchImagesPerSecond = Math.Round(names.Count / torchClock.Elapsed.TotalSeconds, 1), OnnxImagesPerSecond = Math.Round(names.Count / onnxClock.Elapsed.TotalSeconds, 1),
                    BatchSize = size, Detector = detection,
                };
                var output = parse.InvocationConfiguration.Output;
                if (parse.GetValue(json)) JsonOutput.Write(output, result);
                else
                {
                    output.WriteLine($"{names.Count} images: lowest cosine {minCosine:0.0000000} ({worst}), mean {result.MeanCosine:0.0000000}, {below} below 0.99999");
                    output.WriteLine($"images/s, batch {size}: libtorch {result.TorchImagesPerSecond}, ONNX Runtime {result.OnnxImagesPerSecond}");
                    if (detection is not null) output.WriteLine($"detector: {System.Text.Json.JsonSerializer.Serialize(detection, JsonOutput.Options)}");
                }
                return 0;
            }
            finally
            {
                Directory.Delete(scratch, recursive: true);
            }
        });
        return command;
    }

    private static string Export(string modelPath, string onnxPath)
    {
        OnnxExporter.Export(modelPath, onnxPath);
        return onnxPath;
    }

    private static object CompareDetectors(string path, string root, IReadOnlyList<string> names, int count, string scratch, ProgressReporter progress)
    {
        if (!File.Exists(path)) throw new UserErrorException($"--detector: '{path}' does not exist.");
        string onnxPath = Export(path, Path.Combine(scratch, "detector.onnx"));
        using var torchDetector = TorchFaceDetector.Open(path);
        using var onnxDetector = new OnnxFaceDetector(onnxPath);
        double maxBox = 0, maxLandmark = 0, maxScore = 0;
        int faces = 0, mismatched = 0;
        var torchClock = new Stopwatch();
        var onnxClock = new Stopwatch();
        var photos = names.Take(count).ToList();
        progress.Run("detecting with both runtimes", photos.Count, "img", report =>
        {
            for (int n = 0; n < photos.Count; n++)
            {
                var image = ImageDecoder.Decode(Path.Combine(root, photos[n]));
                torchClock.Start();
                var expected = torchDetector.Detect(image);
                torchClock.Stop();
                onnxClock.Start();
                var actual = onnxDetector.Detect(image);
                onnxClock.Stop();
                if (expected.Count != actual.Count) { mismatched++; continue; }
                for (int i = 0; i < expected.Count; i++)
                {
                    var (e, a) = (expected[i], actual[i]);
                    maxBox = new[] { maxBox, Math.Abs(e.Box.Left - a.Box.Left), Math.Abs(e.Box.Top - a.Box.Top), Math.Abs(e.Box.Right - a.Box.Right), Math.Abs(e.Box.Bottom - a.Box.Bottom) }.Max();
                    var (el, al) = (e.Landmarks!.Value.ToFlat(), a.Landmarks!.Value.ToFlat());
                    for (int k = 0; k < el.Length; k++) maxLandmark = Math.Max(maxLandmark, Math.Abs(el[k] - al[k]));
                    maxScore = Math.Max(maxScore, Math.Abs(e.Score - a.Score));
                }
                faces += expected.Count;
                report.Report(n + 1);
            }
        });
        return new
        {
            Model = path, Images = photos.Count, Faces = faces, ImagesWithDifferentCounts = mismatched, MaxBoxDifferencePx = maxBox, MaxLandmarkDifferencePx = maxLandmark, MaxScoreDifference = maxScore,
            TorchImagesPerSecond = Math.Round(photos.Count / torchClock.Elapsed.TotalSeconds, 1), OnnxImagesPerSecond = Math.Round(photos.Count / onnxClock.Elapsed.TotalSeconds, 1),
        };
    }
}
