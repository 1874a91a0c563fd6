using FaceForge.Detection;
using FaceForge.Embedding;

namespace FaceForge.Pipeline;

/// <summary>
/// Runs model files of one kind: a runtime (ONNX Runtime in the core, libtorch in FaceForge.Training) says which
/// files it can open and opens them as the core's interfaces.
/// </summary>
public interface IFaceModelBackend
{
    /// <summary>Whether this backend runs <paramref name="path"/> (by its format, not by trying).</summary>
    bool CanOpen(string path);

    /// <summary>Opens a recognition model.</summary>
    /// <exception cref="InvalidDataException">The file is not a recognition model this backend runs.</exception>
    IFaceEmbedder OpenEmbedder(string path);

    /// <summary>Opens a face detector.</summary>
    /// <exception cref="InvalidDataException">The file is not a detector this backend runs.</exception>
    IFaceDetector OpenDetector(string path, DetectorOptions options);
}

/// <summary>
/// Opens detector and recognition model files through the first backend that runs them: the backends given (for
/// example FaceForge.Training's libtorch backend for .ffm files), then the core's ONNX Runtime backend. This is the
/// seam through which applications get a <see cref="FacePipeline"/> without naming a runtime.
/// </summary>
/// <remarks>Immutable; thread-safe.</remarks>
public sealed class FaceModels(params IFaceModelBackend[] backends)
{
    private readonly IFaceModelBackend[] _backends = [.. backends, new OnnxModelBackend()];

    /// <summary>Opens a recognition model file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">No backend runs it, or it is not a recognition model.</exception>
    public IFaceEmbedder OpenEmbedder(string path) => For(path).OpenEmbedder(path);

    /// <summary>Opens a face detector file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">No backend runs it, or it is not a detector.</exception>
    public IFaceDetector OpenDetector(string path, DetectorOptions? options = null) => For(path).OpenDetector(path, options ?? new DetectorOptions());

    /// <summary>A pipeline of the detector and recognition model files (dispose it to release both).</summary>
    public OwnedFacePipeline OpenPipeline(string detectorPath, string modelPath, DetectorOptions? options = null, FlipMode flip = FlipMode.Add)
    {
        var detector = OpenDetector(detectorPath, options);
        IFaceEmbedder? embedder = null;
        try
        {
            embedder = OpenEmbedder(modelPath);
            return new OwnedFacePipeline(new FacePipeline(detector, embedder, flip), detector, embedder);
        }
        catch
        {
            // A detector without landmarks is refused after both are open: neither may stay open.
            embedder?.Dispose();
            detector.Dispose();
            throw;
        }
    }

    private IFaceModelBackend For(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(path) ? $"Model file '{path}' is a folder; give the model file." : $"Model file '{path}' does not exist.", path);
        return _backends.FirstOrDefault(b => b.CanOpen(path))
            ?? throw new InvalidDataException($"'{path}': no runtime here opens this file (FaceForge .ffm models need FaceForge.Training's libtorch backend; ONNX files end in .onnx).");
    }
}

/// <summary>A <see cref="FacePipeline"/> that owns its detector and embedder.</summary>
/// <param name="Pipeline">The pipeline.</param>
/// <param name="Detector">Its detector.</param>
/// <param name="Embedder">Its embedder.</param>
public sealed record OwnedFacePipeline(FacePipeline Pipeline, IFaceDetector Detector, IFaceEmbedder Embedder) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Detector.Dispose();
        Embedder.Dispose();
    }
}

/// <summary>ONNX Runtime in the core: FaceForge's exported recognition models and detectors, YuNet and Ultra-Light detectors.</summary>
internal sealed class OnnxModelBackend : IFaceModelBackend
{
    public bool CanOpen(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    public IFaceEmbedder OpenEmbedder(string path) => new OnnxFaceEmbedder(path);

    public IFaceDetector OpenDetector(string path, DetectorOptions options) => new OnnxFaceDetector(path, options);
}
