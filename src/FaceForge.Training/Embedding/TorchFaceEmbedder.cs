using FaceForge.Embedding;
using FaceForge.Formats.PyTorch;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Embedding;

/// <summary>Runs a FaceForge model with libtorch on the CPU.</summary>
/// <remarks>Not thread-safe: call <see cref="Embed"/> from one thread at a time.</remarks>
public sealed class TorchFaceEmbedder : IFaceEmbedder
{
    private readonly nn.Module<Tensor, Tensor> _network;

    /// <summary>Wraps a built network (the embedder takes ownership and puts it in evaluation mode).</summary>
    public TorchFaceEmbedder(ModelInfo info, nn.Module<Tensor, Tensor> network)
    {
        Info = info;
        _network = network;
        _network.eval();
    }

    /// <inheritdoc/>
    public ModelInfo Info { get; }

    /// <summary>Loads a FaceForge model file.</summary>
    public static TorchFaceEmbedder Open(string path)
    {
        TorchRuntime.EnsureLoaded();
        var (info, weights) = ModelFile.Read(path);
        if (info.Kind != ModelInfo.RecognitionKind)
            throw new InvalidDataException($"{path}: '{info.Architecture}' is a {info.Kind} model, not a recognition model (open it as a detector).");
        return FromWeights(info, weights, path);
    }

    /// <summary>Builds the architecture of <paramref name="info"/> and loads <paramref name="weights"/> strictly.</summary>
    public static TorchFaceEmbedder FromWeights(ModelInfo info, IReadOnlyDictionary<string, TensorData> weights, string source)
    {
        nn.Module<Tensor, Tensor> network;
        try
        {
            network = BackboneCatalog.Create(info);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        StateDict.Load(network, weights, strict: true, source);
        return new TorchFaceEmbedder(info, network);
    }

    /// <inheritdoc/>
    public float[][] Embed(IReadOnlyList<RgbImage> crops, FlipMode flip)
    {
        if (crops.Count == 0) return [];
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = ChannelsLast.From(ToInput(crops, Info));
        var features = _network.call(input);
        if (flip != FlipMode.None)
        {
            // flip keeps the layout, so From only copies if libtorch ever stops doing so.
            var flipped = _network.call(ChannelsLast.From(input.flip(3)));
            features = flip == FlipMode.Add ? TensorSum.Add(features, flipped) : torch.cat([features, flipped], 1);
        }
        features = nn.functional.normalize(features, p: 2, dim: 1).contiguous();
        var flat = features.data<float>().ToArray();
        int d = (int)features.shape[1];
        return Enumerable.Range(0, crops.Count).Select(i => flat.AsSpan(i * d, d).ToArray()).ToArray();
    }

    /// <summary>Crops as a normalised N x 3 x H x W float tensor.</summary>
    internal static Tensor ToInput(IReadOnlyList<RgbImage> crops, ModelInfo info)
    {
        int h = info.InputHeight, w = info.InputWidth, plane = h * w;
        var data = new float[crops.Count * 3 * plane];
        for (int n = 0; n < crops.Count; n++)
        {
            var crop = crops[n];
            if (crop.Width != w || crop.Height != h)
                throw new ArgumentException($"Crop {n} is {crop.Width}x{crop.Height}; the model takes {w}x{h}.", nameof(crops));
            info.Normalization.WriteChannelsFirst(crop, data.AsSpan(n * 3 * plane, 3 * plane));
        }
        return torch.tensor(data, [crops.Count, 3, h, w]);
    }

    /// <inheritdoc/>
    public void Dispose() => _network.Dispose();
}
