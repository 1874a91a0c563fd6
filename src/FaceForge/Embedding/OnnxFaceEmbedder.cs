using System.Buffers;
using FaceForge.Alignment;
using FaceForge.Imaging;
using FaceForge.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FaceForge.Embedding;

/// <summary>
/// How to run an ONNX recognition model that FaceForge did not export (no FaceForge metadata): its alignment template
/// and pixel normalisation must be stated, never guessed. Ignored for FaceForge's own exports, which carry them.
/// </summary>
public sealed record OnnxEmbedderOptions
{
    /// <summary>Alignment template name (e.g. "arcface-112x112"; see <see cref="AlignmentTemplate.All"/>).</summary>
    public string? Template { get; init; }

    /// <summary>Pixel normalisation mean (InsightFace models: 127.5).</summary>
    public float? NormalizationMean { get; init; }

    /// <summary>Pixel normalisation divisor (InsightFace models: 127.5).</summary>
    public float? NormalizationStd { get; init; }

    /// <summary>ONNX Runtime intra-op threads; 0 lets it choose.</summary>
    public int Threads { get; init; }
}

/// <summary>
/// Runs a recognition model with ONNX Runtime, without libtorch: FaceForge's exports (output "embedding",
/// unnormalised, and "log_sigma_sq" for models with a PFE head) or another ONNX model whose first output is the
/// embedding. Results match <c>TorchFaceEmbedder</c>'s for the same model: flip test, magnitude, variances, quality.
/// </summary>
/// <remarks>Thread-safe: ONNX Runtime sessions allow concurrent runs.</remarks>
public sealed class OnnxFaceEmbedder : IFaceEmbedder
{
    private readonly InferenceSession _session;
    private readonly Models.SessionGate _gate;
    private readonly string _input, _embedding;
    private readonly string? _logSigmaSq;
    private readonly bool _dynamicBatch;

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a loadable ONNX recognition model, or one without FaceForge metadata and without <paramref name="options"/> saying how to feed it.</exception>
    public OnnxFaceEmbedder(string path, OnnxEmbedderOptions? options = null)
    {
        options ??= new OnnxEmbedderOptions();
        _session = OnnxModelFile.Open(path, options.Threads);
        _gate = new Models.SessionGate("embedder", path);
        try
        {
            if (_session.InputMetadata.Count != 1)
                throw new InvalidDataException($"{path}: a recognition model takes one input; this one takes {_session.InputMetadata.Count} ({string.Join(", ", _session.InputMetadata.Keys)}).");
            var (input, meta) = _session.InputMetadata.First();
            _input = input;
            int[] dims = meta.Dimensions;
            if (dims.Length != 4 || dims[1] != 3)
                throw new InvalidDataException($"{path}: input '{input}' has shape [{string.Join(", ", dims)}]; a recognition model takes N x 3 x H x W.");
            _dynamicBatch = dims[0] <= 0;
            var info = OnnxModelMetadata.Read(_session, path);
            if (info is not null && info.Kind != ModelInfo.RecognitionKind)
                throw new InvalidDataException($"{path}: '{info.Architecture}' is a {info.Kind} model, not a recognition model (open it as a detector).");
            var outputs = _session.OutputMetadata;
            _embedding = outputs.ContainsKey("embedding") ? "embedding" : outputs.Keys.First();
            int embeddingSize = outputs[_embedding].Dimensions is [_, > 0 and var d] ? d : 0;
            if (info is not null && (options.Template is not null || options.NormalizationMean is not null || options.NormalizationStd is not null))
                throw new InvalidDataException($"{path}: carries FaceForge metadata (template {info.Template}, normalisation mean {info.NormalizationMean}, std {info.NormalizationStd}); stating a template or normalisation is for ONNX files without it: leave them out.");
            if (info is not null && embeddingSize > 0 && embeddingSize != info.EmbeddingSize)
                throw new InvalidDataException($"{path}: output '{_embedding}' has {embeddingSize} values a face, but the metadata says {info.EmbeddingSize}.");
            info ??= Foreign(path, options, dims, embeddingSize);
            if (dims[2] != info.InputHeight || dims[3] != info.InputWidth)
                throw new InvalidDataException($"{path}: input is {dims[3]}x{dims[2]} but the metadata says {info.InputWidth}x{info.InputHeight}.");
            if (info.Quality == QualityKind.Uncertainty)
                _logSigmaSq = outputs.ContainsKey("log_sigma_sq") ? "log_sigma_sq" : throw new InvalidDataException($"{path}: quality 'uncertainty' but no 'log_sigma_sq' output.");
            Info = info;
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ModelInfo Info { get; }

    private static ModelInfo Foreign(string path, OnnxEmbedderOptions options, int[] dims, int embeddingSize)
    {
        if (options.Template is null || options.NormalizationMean is null || options.NormalizationStd is null)
            throw new InvalidDataException($"{path}: this ONNX file has no FaceForge metadata, so its alignment template and pixel normalisation are unknown; state them (template, normalisation mean and std) to use it.");
        if (dims[2] <= 0 || dims[3] <= 0) throw new InvalidDataException($"{path}: input height and width must be fixed (got [{string.Join(", ", dims)}]).");
        if (embeddingSize <= 0) throw new InvalidDataException($"{path}: its first output has no fixed embedding length.");
        var info = new ModelInfo
        {
            Architecture = "onnx:" + Path.GetFileNameWithoutExtension(path), InputWidth = dims[3], InputHeight = dims[2], Template = options.Template,
            NormalizationMean = options.NormalizationMean.Value, NormalizationStd = options.NormalizationStd.Value, EmbeddingSize = embeddingSize,
            Source = Path.GetFileName(path),
        };
        return info.Problem() is { } problem ? throw new InvalidDataException($"{path}: {problem}.") : info;
    }

    /// <inheritdoc/>
    /// <remarks>As <c>TorchFaceEmbedder</c>: with a flip test the magnitude is the mean of both copies' norms and the variances are averaged (Add) or set side by side and halved (Concatenate).</remarks>
    public FaceEmbedding[] EmbedFaces(IReadOnlyList<RgbImage> crops, FlipMode flip)
    {
        ArgumentNullException.ThrowIfNull(crops);
        if (!Enum.IsDefined(flip)) throw new ArgumentException($"Flip mode {(int)flip} is unknown.", nameof(flip));
        for (int i = 0; i < crops.Count; i++) if (crops[i] is null) throw new ArgumentException($"crop {i} is null.", nameof(crops));
        if (crops.Count == 0) return [];
        int h = Info.InputHeight, w = Info.InputWidth, size = 3 * h * w, d = Info.EmbeddingSize;
        // Input tensors come from the shared pool: a batch is megabytes, and a service allocating them afresh per
        // call grew the GC's committed large-object heap to 4x the live heap (docs/benchmarks.md, "Service").
        int length = crops.Count * size;
        var input = ArrayPool<float>.Shared.Rent(length);
        float[] features;
        float[]? logSigmaSq, flippedFeatures = null, flippedLog = null;
        try
        {
            for (int n = 0; n < crops.Count; n++)
            {
                var crop = crops[n];
                if (crop.Width != w || crop.Height != h)
                    throw new ArgumentException($"Crop {n}: {Info.CropProblem(crop.Width, crop.Height)}.", nameof(crops));
                Info.Normalization.WriteChannelsFirst(crop, input.AsSpan(n * size, size));
            }
            (features, logSigmaSq) = Run(input.AsMemory(0, length), crops.Count);
            if (flip != FlipMode.None)
            {
                var mirrored = ArrayPool<float>.Shared.Rent(length);
                try
                {
                    Mirror(input.AsSpan(0, length), mirrored.AsSpan(0, length), w);
                    (flippedFeatures, flippedLog) = Run(mirrored.AsMemory(0, length), crops.Count);
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(mirrored);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
        var result = new FaceEmbedding[crops.Count];
        for (int n = 0; n < crops.Count; n++)
        {
            var f = features.AsSpan(n * d, d);
            float magnitude = Norm(f);
            float[] vector;
            float[]? sigmaSq = logSigmaSq is null ? null : Exp(logSigmaSq.AsSpan(n * d, d));
            if (flippedFeatures is null) vector = f.ToArray();
            else
            {
                var g = flippedFeatures.AsSpan(n * d, d);
                magnitude = (magnitude + Norm(g)) / 2;
                float[]? other = flippedLog is null ? null : Exp(flippedLog.AsSpan(n * d, d));
                if (flip == FlipMode.Add)
                {
                    vector = new float[d];
                    for (int i = 0; i < d; i++) vector[i] = f[i] + g[i];
                    if (sigmaSq is not null) for (int i = 0; i < d; i++) sigmaSq[i] = (sigmaSq[i] + other![i]) / 2;
                }
                else
                {
                    vector = [.. f, .. g];
                    // Each half of a concatenated, normalised vector is about 1/sqrt(2) long: the variances scale by 1/2.
                    if (sigmaSq is not null) sigmaSq = [.. sigmaSq.Select(s => s / 2), .. other!.Select(s => s / 2)];
                }
            }
            Similarity.Normalize(vector);
            result[n] = FaceEmbedding.Create(vector, magnitude, sigmaSq, Info.Quality);
        }
        return result;
    }

    private (float[] Features, float[]? LogSigmaSq) Run(Memory<float> input, int count)
    {
        int size = 3 * Info.InputHeight * Info.InputWidth, d = Info.EmbeddingSize;
        if (!_dynamicBatch && count > 1)
        {
            // A model exported with a fixed batch of one: run crop by crop.
            var features = new float[count * d];
            var log = _logSigmaSq is null ? null : new float[count * d];
            for (int n = 0; n < count; n++)
            {
                var (f, l) = Run(input.Slice(n * size, size), 1);
                f.CopyTo(features, n * d);
                l?.CopyTo(log!, n * d);
            }
            return (features, log);
        }
        var tensor = new DenseTensor<float>(input, [count, 3, Info.InputHeight, Info.InputWidth]);
        var names = _logSigmaSq is null ? new[] { _embedding } : [_embedding, _logSigmaSq];
        using var use = _gate.Enter();
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, tensor)], names);
        float[] Output(string name)
        {
            var values = results.First(r => r.Name == name).AsEnumerable<float>().ToArray();
            return values.Length == count * d ? values : throw new InvalidDataException($"Output '{name}' has {values.Length} values for {count} crops of {d}.");
        }
        return (Output(_embedding), _logSigmaSq is null ? null : Output(_logSigmaSq));
    }

    // The same crops mirrored left to right (each row of each plane reversed).
    private static void Mirror(ReadOnlySpan<float> input, Span<float> mirrored, int width)
    {
        for (int row = 0; row < input.Length; row += width)
        {
            var source = input.Slice(row, width);
            var target = mirrored.Slice(row, width);
            for (int x = 0; x < width; x++) target[x] = source[width - 1 - x];
        }
    }

    private static float Norm(ReadOnlySpan<float> v)
    {
        double sum = 0;
        foreach (float x in v) sum += (double)x * x;
        return (float)Math.Sqrt(sum);
    }

    private static float[] Exp(ReadOnlySpan<float> log)
    {
        var result = new float[log.Length];
        for (int i = 0; i < log.Length; i++) result[i] = MathF.Exp(log[i]);
        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_gate.Close()) _session.Dispose();
    }
}
