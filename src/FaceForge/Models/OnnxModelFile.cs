using Microsoft.ML.OnnxRuntime;

namespace FaceForge.Models;

/// <summary>Opens ONNX files for the core's runtimes, with one error for files ONNX Runtime cannot load.</summary>
internal static class OnnxModelFile
{
    /// <summary>A session for <paramref name="path"/>; <paramref name="threads"/> 0 lets ONNX Runtime choose.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load it (its first message line is quoted).</exception>
    public static InferenceSession Open(string path, int threads = 0, bool optimize = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(path) ? $"Model file '{path}' is a folder; give the model file." : $"Model file '{path}' does not exist.", path);
        try
        {
            using var options = new SessionOptions
            {
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = threads,
                GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            };
            // Worker threads sleep between operators instead of spinning: spinning burns the cores that request
            // handling, decoding and the other session need (under `faceforge serve` on 2 cores, identify-only load:
            // 38.3 images/s spinning vs 46.3 not, offline pipeline 49.5 vs 54.7 in the same runs; docs/benchmarks.md).
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            return new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: not a loadable ONNX model ({e.Message.Split('\n')[0]}).", e);
        }
    }
}
