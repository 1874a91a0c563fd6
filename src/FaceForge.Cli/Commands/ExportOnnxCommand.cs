using System.CommandLine;
using FaceForge.Training.Export;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge export onnx`: a FaceForge model as an ONNX file that ONNX Runtime (and FaceForge.Core alone) runs.</summary>
internal static class ExportOnnxCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file (.ffm): any backbone, or a detector (retinaface-mnet025, aofd-mnet025).", Required = true };
        var output = new Option<string>("--out") { Description = "ONNX file to write (an existing one only with --force).", Required = true };
        var opset = new Option<int>("--opset") { Description = $"ONNX operator set, {OnnxExporter.MinOpset} to {OnnxExporter.MaxOpset}.", DefaultValueFactory = _ => 17 };
        var noVerify = new Option<bool>("--no-verify") { Description = "Skip the check that runs the file with ONNX Runtime beside libtorch on a random batch of two." };
        var json = new Option<bool>("--json") { Description = "Print JSON: path, architecture, kind, nodes, initializers, bytes, outputs, max_abs_difference, min_cosine." };
        var force = ReplacedOutput.ForceOption();
        var command = new Command("onnx", "Export a model to ONNX: batch norms folded, dynamic batch axis, template, normalisation, embedding size and quality in the metadata; checked against libtorch unless --no-verify.")
        {
            model, output, opset, noVerify, force, json,
        };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!, outPath = parse.GetValue(output)!;
            if (!File.Exists(modelPath)) throw new UserErrorException(Directory.Exists(modelPath) ? $"--model: '{modelPath}' is a folder, not a model file." : $"--model: '{modelPath}' does not exist.");
            if (ModelInputs.IsOnnx(modelPath)) throw new UserErrorException($"--model: '{modelPath}' is already ONNX; export takes a FaceForge .ffm model.");
            if (Directory.Exists(outPath)) throw new UserErrorException($"--out: '{outPath}' is a folder; give a file path such as model.onnx.");
            if (Path.GetFullPath(outPath) == Path.GetFullPath(modelPath)) throw new UserErrorException("--out: the output would overwrite the model being exported.");
            ReplacedOutput.RequireNewFile(outPath, parse.GetValue(force));
            int set = parse.GetValue(opset);
            if (set is < OnnxExporter.MinOpset or > OnnxExporter.MaxOpset) throw new UserErrorException($"--opset: {set} is not supported; choose {OnnxExporter.MinOpset} to {OnnxExporter.MaxOpset}.");
            string? folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (folder is not null && !Directory.Exists(folder)) throw new UserErrorException($"--out: folder '{folder}' does not exist.");
            OnnxExportResult result;
            try
            {
                result = OnnxExporter.Export(modelPath, outPath, new OnnxExportOptions { Opset = set, Verify = !parse.GetValue(noVerify) });
            }
            catch (NotSupportedException e)
            {
                throw new UserErrorException($"{modelPath}: {e.Message}");
            }
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, new
                {
                    result.Path, result.Info.Architecture, result.Info.Kind, result.Nodes, result.Initializers, result.Bytes, result.Outputs,
                    result.MaxAbsDifference, result.MinCosine, Opset = set,
                });
            else
            {
                writer.WriteLine($"{result.Path}: {result.Info.Architecture} ({result.Info.Kind}), opset {set}, {result.Nodes} nodes, {result.Initializers} weight tensors, {result.Bytes / 1e6:0.0} MB; outputs {string.Join(", ", result.Outputs)}");
                if (result.MaxAbsDifference is double diff)
                    writer.WriteLine($"checked with ONNX Runtime against libtorch on a random batch of two: max |difference| {diff:G3}" + (result.MinCosine is double c ? $", lowest embedding cosine {c:0.0000000}" : ""));
            }
            return 0;
        });
        return command;
    }
}
