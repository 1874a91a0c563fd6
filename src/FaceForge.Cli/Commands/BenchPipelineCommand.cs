using System.CommandLine;
using System.Diagnostics;
using FaceForge.Data;
using FaceForge.Input;
using FaceForge.Training.Input;
using FaceForge.Training.Runtime;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench pipeline`: images per second of the training input pipeline (decode, augment, normalise, one
/// tensor per batch) for several worker counts, measured side by side in one run.
/// </summary>
internal static class BenchPipelineCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset: image folder or RecordIO prefix.", Required = true }.ExistingPath();
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var batches = new Option<int>("--batches") { Description = "Batches timed per setting (after one warm-up batch).", DefaultValueFactory = _ => 30 }.AtLeast(1);
        var workers = new Option<string>("--workers") { Description = "Comma-separated worker counts to compare.", DefaultValueFactory = _ => "1,2" };
        var augment = new Option<bool>("--augment") { Description = "Enable every augmentation at probability 0.5 (else flip only)." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("pipeline", "Measure the input pipeline's images/s.") { data, batch, batches, workers, augment, json };
        command.SetAction(parse =>
        {
            TorchRuntime.EnsureLoaded();
            using var dataset = FaceDataset.Open(parse.GetValue(data)!);
            int batchSize = parse.GetValue(batch), timed = parse.GetValue(batches);
            var augmentation = parse.GetValue(augment)
                ? new AugmentationOptions { DownscaleProbability = 0.5, BlurProbability = 0.5, ColorJitterProbability = 0.5, GrayProbability = 0.5 }
                : new AugmentationOptions();
            var results = new List<object>();
            foreach (string item in parse.GetValue(workers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(item, out int count) || count < 1) throw new UserErrorException($"--workers: '{item}' is not a positive integer.");
                var loader = new BatchLoader(dataset, new BatchLoaderOptions { BatchSize = batchSize, Workers = count, Seed = 1, Augmentation = augmentation, DropLast = true });
                if (loader.BatchesPerEpoch < 2) throw new UserErrorException($"--data holds {dataset.Count} images: too few for two batches of {batchSize}.");
                int images = 0, seen = 0, epoch = 0;
                var clock = new Stopwatch();
                while (seen <= timed)
                {
                    foreach (var b in loader.Epoch(epoch++))
                    {
                        var (x, y) = TensorBatch.ToTensors(b);
                        x.Dispose(); y.Dispose();
                        if (seen == 0) clock.Start(); else images += b.Count; // batch 0 warms up threads and caches
                        b.Dispose();
                        if (++seen > timed) break;
                    }
                }
                clock.Stop();
                results.Add(new { Workers = count, BatchSize = batchSize, Batches = timed, ImagesPerSecond = Math.Round(images / clock.Elapsed.TotalSeconds, 1) });
            }
            var summary = new { Dataset = parse.GetValue(data), dataset.Format, Images = dataset.Count, Augment = parse.GetValue(augment), Results = results };
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(output, summary);
            else foreach (dynamic r in results) output.WriteLine($"workers {r.Workers}: {r.ImagesPerSecond} images/s (batch {r.BatchSize}, {r.Batches} batches)");
            return 0;
        });
        return command;
    }
}
