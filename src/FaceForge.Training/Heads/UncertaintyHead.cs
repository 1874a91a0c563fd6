using FaceForge.Training.Backbones;
using FaceForge.Training.Export;
using FaceForge.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// Probabilistic Face Embeddings' uncertainty module (Shi and Jain, ICCV 2019): on the backbone's last feature map,
/// FC + BN + ReLU, FC + BN without affine, then one scalar affine shared by every dimension (gamma = 1e-4, beta = -7
/// at the start, so every variance begins near e^-7 and the loss first learns their common level). Output: log
/// sigma^2 per embedding dimension. Weights live in a model file under "uncertainty.".
/// </summary>
/// <remarks>Not thread-safe (a TorchSharp module).</remarks>
public sealed class UncertaintyHead : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Linear fc1;
    private readonly BatchNormLayer bn1;
    private readonly Linear fc2;
    private readonly BatchNormLayer bn2;
    private readonly Parameter gamma;
    private readonly Parameter beta;

    /// <summary>A head reading a flattened feature map of <paramref name="inputFeatures"/> values and giving <paramref name="embeddingSize"/> log variances.</summary>
    public UncertaintyHead(long inputFeatures, int embeddingSize) : base(nameof(UncertaintyHead))
    {
        if (inputFeatures < 1 || embeddingSize < 1) throw new ArgumentException($"Need positive sizes (got {inputFeatures} inputs, {embeddingSize} outputs).");
        fc1 = nn.Linear(inputFeatures, embeddingSize, hasBias: false);
        bn1 = BatchNormLayer.Features(embeddingSize);
        fc2 = nn.Linear(embeddingSize, embeddingSize, hasBias: false);
        bn2 = BatchNormLayer.Features(embeddingSize, affine: false);
        gamma = nn.Parameter(torch.tensor(new[] { 1e-4f }));
        beta = nn.Parameter(torch.tensor(new[] { -7f }));
        RegisterComponents();
    }

    /// <summary>The prefix of this head's weights in a model file.</summary>
    public const string WeightPrefix = "uncertainty.";

    /// <summary>log sigma^2 (N x embedding size) of feature maps (N x C x H x W).</summary>
    public override Tensor forward(Tensor featureMap)
    {
        using var scope = torch.NewDisposeScope();
        var hidden = nn.functional.relu(bn1.call(fc1.call(featureMap.flatten(1))));
        return TensorSum.Add(bn2.call(fc2.call(hidden)).mul(gamma), beta).MoveToOuterDisposeScope();
    }

    string IOnnxExportable.ExportOnnx(OnnxGraph graph, string input)
    {
        var x = graph.Node("Flatten", [input], OnnxGraph.Ints("axis", 1));
        x = graph.Node("Relu", [graph.Scoped("fc1", () => graph.Gemm(fc1, bn1, x))]);
        x = graph.Scoped("fc2", () => graph.Gemm(fc2, bn2, x));
        x = graph.Node("Mul", [x, graph.Constant("gamma", OnnxGraph.Floats(gamma), [1])]);
        return graph.Node("Add", [x, graph.Constant("beta", OnnxGraph.Floats(beta), [1])]);
    }
}
