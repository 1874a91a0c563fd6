using FaceForge.Training.Backbones;
using FaceForge.Training.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>
/// The occlusion-aware detector (AOFD ideas, Chen et al., arXiv 1709.05188, on a light single-stage detector):
/// RetinaFace-mnet0.25 whose shared stride-8 features also feed a segmentation branch that predicts, per feature
/// cell, whether the face there is occluded. Training hides parts of face features with
/// <see cref="AdversarialMaskGenerator"/>'s masks so the classifier learns to find partly visible faces.
/// </summary>
/// <remarks>Parameter names: the RetinaFace ones under "detector.", the branch under "segmentation.". Not thread-safe.</remarks>
public sealed class OcclusionAwareDetector : nn.Module<Tensor, DetectionOutput>
{
    private readonly RetinaFaceMobileNet detector;
    private readonly Sequential segmentation;

    /// <summary>Creates the network.</summary>
    public OcclusionAwareDetector() : base(nameof(OcclusionAwareDetector))
    {
        detector = new RetinaFaceMobileNet();
        segmentation = nn.Sequential(
            nn.Conv2d(RetinaFaceMobileNet.FeatureChannels, 32, 3, 1, 1, bias: false), BatchNormLayer.Channels(32), nn.ReLU(),
            nn.Conv2d(32, 1, 1));
        RegisterComponents();
    }

    /// <summary>The detector part (features and heads).</summary>
    public RetinaFaceMobileNet Detector => detector;

    /// <summary>The segmentation branch's parameters (trained with their own optimizer: they start from scratch).</summary>
    public IEnumerable<Parameter> SegmentationParameters => segmentation.parameters();

    /// <summary>Occlusion logits, B x 1 x H/8 x W/8, from the stride-8 features.</summary>
    public Tensor Occlusion(Tensor stride8Features) => segmentation.call(stride8Features);

    /// <summary>Occlusion probabilities (sigmoid of <see cref="Occlusion"/>) in ONNX.</summary>
    internal string ExportOcclusion(OnnxGraph graph, string stride8Features) => graph.Node("Sigmoid", [graph.Emit(segmentation, stride8Features, "segmentation")]);

    /// <inheritdoc/>
    public override DetectionOutput forward(Tensor input) => detector.call(input);
}
