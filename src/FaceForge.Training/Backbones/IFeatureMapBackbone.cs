using static TorchSharp.torch;

namespace FaceForge.Training.Backbones;

/// <summary>
/// A backbone split at its last feature map, where Probabilistic Face Embeddings' uncertainty head attaches:
/// forward(x) = <see cref="Embed"/>(<see cref="FeatureMap"/>(x)).
/// </summary>
internal interface IFeatureMapBackbone
{
    /// <summary>The last convolutional feature map, N x C x H x W.</summary>
    Tensor FeatureMap(Tensor input);

    /// <summary>The embedding (before normalisation) of a feature map.</summary>
    Tensor Embed(Tensor featureMap);
}
