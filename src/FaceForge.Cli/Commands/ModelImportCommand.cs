using System.CommandLine;
using FaceForge.Formats.PyTorch;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Detection;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using static TorchSharp.torch;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge model import`: a PyTorch state dict (zip or legacy format) to a FaceForge model file.</summary>
internal static class ModelImportCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "PyTorch checkpoint (.pth/.pt/.ckpt, zip or legacy format).", Required = true };
        var arch = new Option<string>("--arch") { Description = $"Architecture: {string.Join(", ", BackboneCatalog.Names.Concat(DetectorCatalog.Names))}.", Required = true };
        var output = new Option<string>("--out") { Description = "FaceForge model file to write.", Required = true };
        var embedding = new Option<int?>("--embedding-size") { Description = "Embedding length if not the architecture's default." };
        var width = new Option<double?>("--width") { Description = "Width multiplier the checkpoint was trained with (default 1)." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var force = ReplacedOutput.ForceOption();
        var command = new Command("import", "Import PyTorch weights into a FaceForge model file; prints missing and unexpected keys.") { from, arch, output, embedding, width, force, json };
        arch.AcceptOnlyFromAmong([.. BackboneCatalog.Names, .. DetectorCatalog.Names]);
        command.SetAction(parse =>
        {
            string source = parse.GetValue(from)!;
            if (!File.Exists(source)) throw new UserErrorException(Directory.Exists(source) ? $"--from: '{source}' is a folder; give the checkpoint file (.pth, .pt)." : $"--from: '{source}' does not exist.");
            TorchRuntime.EnsureLoaded();
            string name = parse.GetValue(arch)!;
            bool detector = DetectorCatalog.IsDetector(name);
            var info = detector ? DetectorCatalog.Defaults(name) : BackboneCatalog.Defaults(name);
            if (parse.GetValue(embedding) is int size) info = info with { EmbeddingSize = size };
            if (parse.GetValue(width) is double w) info = info with { Options = new() { ["width"] = w } };
            info = info with { Source = Path.GetFileName(source) };
            if (info.Problem() is { } problem) throw new UserErrorException($"--embedding-size/--width: {problem}.");
            string target = parse.GetValue(output)!;
            if (Directory.Exists(target)) throw new UserErrorException($"--out: '{target}' is a folder; give the model file's path (e.g. {Path.Combine(target, name + ".ffm")}).");
            if (Path.GetFullPath(target) == Path.GetFullPath(source)) throw new UserErrorException("--out: the model would overwrite the checkpoint it is imported from.");
            ReplacedOutput.RequireNewFile(target, parse.GetValue(force));
            var weights = PyTorchCheckpoint.LoadStateDict(source);
            using nn.Module network = detector ? DetectorCatalog.Create(info) : BackboneCatalog.Create(info);
            // BatchNorm's step counters are bookkeeping, not weights: old checkpoints may lack them.
            var report = StateDict.Load(network, weights, strict: false, source);
            var missing = report.Missing.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
            if (missing.Count > 0 || report.ShapeMismatches.Count > 0)
                throw new UserErrorException($"{source}: weights do not fit '{info.Architecture}' (another architecture or embedding size?): {StateDict.Describe(report with { Missing = missing })}");
            ModelFile.Save(parse.GetValue(output)!, info, StateDict.Export(network));
            var writer = parse.InvocationConfiguration.Output;
            var result = new { Model = Path.GetFullPath(parse.GetValue(output)!), info.Architecture, Loaded = report.Loaded.Count, Missing = report.Missing, Unexpected = report.Unexpected };
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else
            {
                writer.WriteLine(detector
                    ? $"imported {report.Loaded.Count} tensors into {result.Model} ({info.Architecture} face detector)"
                    : $"imported {report.Loaded.Count} tensors into {result.Model} ({info.Architecture}, {info.InputWidth}x{info.InputHeight}, {info.EmbeddingSize}-d)");
                if (report.Missing.Count > 0) writer.WriteLine($"missing (left at initial values): {string.Join(", ", report.Missing)}");
                if (report.Unexpected.Count > 0) writer.WriteLine($"unexpected (ignored): {string.Join(", ", report.Unexpected)}");
            }
            return 0;
        });
        return command;
    }
}
