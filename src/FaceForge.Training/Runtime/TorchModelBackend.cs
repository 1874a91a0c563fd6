using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Pipeline;
using FaceForge.Training.Detection;
using FaceForge.Training.Embedding;

namespace FaceForge.Training.Runtime;

/// <summary>Runs FaceForge model files (.ffm) with libtorch: recognition models as <see cref="TorchFaceEmbedder"/>, detectors as <see cref="TorchFaceDetector"/>.</summary>
/// <param name="scales">Extra input scales for detectors (1 always runs), or null.</param>
public sealed class TorchModelBackend(IReadOnlyList<float>? scales = null) : IFaceModelBackend
{
    /// <inheritdoc/>
    public bool CanOpen(string path) => !path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc/>
    public IFaceEmbedder OpenEmbedder(string path) => TorchFaceEmbedder.Open(path);

    /// <inheritdoc/>
    public IFaceDetector OpenDetector(string path, DetectorOptions options) => TorchFaceDetector.Open(path, options, scales);
}
