using FaceForge.Formats.PyTorch;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Weights;

/// <summary>What a weight load matched and did not.</summary>
/// <param name="Loaded">Keys copied into the module.</param>
/// <param name="Missing">Module keys the file lacks.</param>
/// <param name="Unexpected">File keys the module lacks.</param>
/// <param name="ShapeMismatches">Keys present in both with different shapes, as "key: file [..] vs module [..]".</param>
public sealed record StateDictReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> ShapeMismatches)
{
    /// <summary>True when every key matched in name and shape.</summary>
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;
}

/// <summary>Moves named weights between TorchSharp modules and <see cref="TensorData"/>.</summary>
public static class StateDict
{
    /// <summary>The module's parameters and buffers as plain tensors.</summary>
    public static Dictionary<string, TensorData> Export(nn.Module module)
    {
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, tensor) in module.state_dict())
            result[name] = ToData(tensor);
        return result;
    }

    /// <summary>A tensor's contents as <see cref="TensorData"/>.</summary>
    public static TensorData ToData(Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        return cpu.dtype switch
        {
            ScalarType.Int64 => new TensorData(TensorElementType.Int64, cpu.shape, cpu.bytes.ToArray()),
            ScalarType.Float32 => new TensorData(TensorElementType.Float32, cpu.shape, cpu.bytes.ToArray()),
            _ => ToData(cpu.to_type(ScalarType.Float32)),
        };
    }

    /// <summary>A new CPU tensor from <paramref name="data"/> (floats become float32, integers int64).</summary>
    public static Tensor ToTensor(TensorData data) => data.ElementType switch
    {
        TensorElementType.Int64 or TensorElementType.Int32 or TensorElementType.UInt8 =>
            torch.tensor(data.ToFloats().Select(v => (long)v).ToArray(), data.Shape, ScalarType.Int64),
        _ => torch.tensor(data.ToFloats(), data.Shape, ScalarType.Float32),
    };

    /// <summary>
    /// Copies matching weights into <paramref name="module"/>. With <paramref name="strict"/>, any missing,
    /// unexpected or mis-shaped key fails with an error listing them, and nothing is copied.
    /// </summary>
    public static StateDictReport Load(nn.Module module, IReadOnlyDictionary<string, TensorData> weights, bool strict, string source)
    {
        var target = module.state_dict();
        var missing = target.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        var unexpected = weights.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var mismatched = target.Where(kv => weights.TryGetValue(kv.Key, out var w) && !w.Shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key}: file {weights[kv.Key].ShapeText} vs module [{string.Join(", ", kv.Value.shape)}]").ToList();
        var report = new StateDictReport(target.Keys.Where(k => weights.ContainsKey(k) && !mismatched.Any(m => m.StartsWith(k + ":", StringComparison.Ordinal))).ToList(), missing, unexpected, mismatched);
        if (strict && !report.IsExact)
            throw new InvalidDataException($"{source}: weights do not fit the architecture (a different backbone?): {Describe(report)}");
        using (torch.no_grad())
        {
            foreach (string key in report.Loaded)
            {
                // Every tensor held by a local until the copy ends: a temporary's finalizer may free it while libtorch
                // reads it (a crash seen in copy_), as with temporary Scalars (see TensorSum).
                using var value = ToTensor(weights[key]);
                var destination = target[key];
                using var converted = value.to_type(destination.dtype);
                destination.copy_(converted);
            }
        }
        return report;
    }

    /// <summary>A one-line summary of a report's problems.</summary>
    public static string Describe(StateDictReport report)
    {
        static string List(IReadOnlyList<string> items) => string.Join(", ", items.Take(5)) + (items.Count > 5 ? $" and {items.Count - 5} more" : "");
        var parts = new List<string>();
        if (report.Missing.Count > 0) parts.Add($"{report.Missing.Count} missing ({List(report.Missing)})");
        if (report.Unexpected.Count > 0) parts.Add($"{report.Unexpected.Count} unexpected ({List(report.Unexpected)})");
        if (report.ShapeMismatches.Count > 0) parts.Add($"{report.ShapeMismatches.Count} shape mismatches ({List(report.ShapeMismatches)})");
        return parts.Count == 0 ? $"all {report.Loaded.Count} keys match" : string.Join("; ", parts);
    }
}
