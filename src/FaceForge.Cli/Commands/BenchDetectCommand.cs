using System.CommandLine;
using System.Diagnostics;
using FaceForge.Imaging;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench detect`: detector milliseconds per image (network, decoding and NMS; image decoding excluded) at
/// batch 1 and batched, side by side in one run, on one photo resized to the given sizes.
/// </summary>
internal static class BenchDetectCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Detector: FaceForge model file or ONNX.", Required = true };
        var image = new Option<string>("--image") { Description = "Photo to detect in (resized to each --sizes entry).", Required = true };
        var sizes = new Option<string>("--sizes") { Description = "Comma-separated longer-side sizes (the image's aspect ratio is kept); 0 keeps the original.", DefaultValueFactory = _ => "640,0" };
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Images per batched call.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var repeats = new Option<int>("--repeats") { Description = "Timed images per setting (after a warm-up).", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("detect", "Measure detector speed (ms per image) at batch 1 and batched.") { model, image, sizes, batch, repeats, json };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(image)!;
            if (!File.Exists(path)) throw new UserErrorException($"--image: '{path}' does not exist.");
            var photo = ImageDecoder.Decode(path);
            using var detector = ModelInputs.Open(parse.GetValue(model)!, "--model");
            int batchSize = parse.GetValue(batch), timed = parse.GetValue(repeats);
            var results = new List<object>();
            foreach (string item in parse.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(item, out int side) || side < 0) throw new UserErrorException($"--sizes: '{item}' is not a size.");
                float factor = side == 0 ? 1 : (float)side / Math.Max(photo.Width, photo.Height);
                var input = side == 0 ? photo : ImageResizer.Resize(photo, Math.Max(8, (int)(photo.Width * factor)), Math.Max(8, (int)(photo.Height * factor)));
                detector.Detect(input); // warm-up
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < timed; i++) detector.Detect(input);
                double single = clock.Elapsed.TotalMilliseconds / timed;
                var many = Enumerable.Repeat(input, batchSize).ToArray();
                detector.DetectMany(many);
                clock.Restart();
                int calls = Math.Max(1, timed / batchSize);
                for (int i = 0; i < calls; i++) detector.DetectMany(many);
                double batched = clock.Elapsed.TotalMilliseconds / (calls * batchSize);
                results.Add(new { Width = input.Width, Height = input.Height, MsBatch1 = Math.Round(single, 2), MsBatched = Math.Round(batched, 2), Batch = batchSize });
                if (!parse.GetValue(json)) parse.InvocationConfiguration.Output.WriteLine($"{input.Width}x{input.Height}: {single:0.00} ms/image at batch 1, {batched:0.00} ms/image at batch {batchSize}");
            }
            if (parse.GetValue(json)) JsonOutput.Write(parse.InvocationConfiguration.Output, new { Detector = detector.Name, Results = results });
            return 0;
        });
        return command;
    }
}
