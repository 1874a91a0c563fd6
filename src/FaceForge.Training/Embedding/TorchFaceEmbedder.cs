using FaceForge.Embedding;
using FaceForge.Formats.PyTorch;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Heads;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Embedding;

/// <summary>Runs a FaceForge model with libtorch on the CPU.</summary>
/// <remarks>Not thread-safe: call <see cref="EmbedFaces"/> from one thread at a time.</remarks>
public sealed class TorchFaceEmbedder : IFaceEmbedder
{
    // Rooted: a temporary Scalar may be finalised by the GC while libtorch still reads it (see TensorSum).
    private static readonly Scalar LogTwo = Math.Log(2).ToScalar(), Half = 0.5.ToScalar();
    private readonly nn.Module<Tensor, Tensor> _network;
    private readonly UncertaintyHead? _uncertainty;

    /// <summary>Wraps a built network (the embedder takes ownership and puts it in evaluation mode).</summary>
    public TorchFaceEmbedder(ModelInfo info, nn.Module<Tensor, Tensor> network) : this(info, network, null) { }

    private TorchFaceEmbedder(ModelInfo info, nn.Module<Tensor, Tensor> network, UncertaintyHead? uncertainty)
    {
        Info = info;
        _network = network;
        _network.eval();
        _uncertainty = uncertainty;
        _uncertainty?.eval();
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
        var backboneWeights = weights.Where(w => !w.Key.StartsWith(UncertaintyHead.WeightPrefix, StringComparison.Ordinal)).ToDictionary();
        bool hasHead = backboneWeights.Count < weights.Count;
        if (hasHead != (info.Quality == QualityKind.Uncertainty))
        {
            network.Dispose();
            throw new InvalidDataException(hasHead
                ? $"{source}: holds uncertainty-head weights but its model.json says quality '{info.Quality}', not uncertainty."
                : $"{source}: its model.json says quality 'uncertainty' but the file holds no uncertainty-head weights ({UncertaintyHead.WeightPrefix}*).");
        }
        UncertaintyHead? head = null;
        try
        {
            StateDict.Load(network, backboneWeights, strict: true, source);
            if (!hasHead) return new TorchFaceEmbedder(info, network);
            head = CreateUncertaintyHead(info, network);
            StateDict.Load(head, weights.Where(w => w.Key.StartsWith(UncertaintyHead.WeightPrefix, StringComparison.Ordinal))
                .ToDictionary(w => w.Key[UncertaintyHead.WeightPrefix.Length..], w => w.Value), strict: true, source + " (uncertainty head: is it for this backbone and embedding size?)");
            return new TorchFaceEmbedder(info, network, head);
        }
        catch
        {
            head?.Dispose();
            network.Dispose();
            throw;
        }
    }

    /// <summary>An untrained uncertainty head sized for <paramref name="network"/>'s last feature map and <paramref name="info"/>'s embedding.</summary>
    internal static UncertaintyHead CreateUncertaintyHead(ModelInfo info, nn.Module<Tensor, Tensor> network)
    {
        var backbone = FeatureMapOf(network, info);
        long features;
        // The head is built outside the scope: the scope would dispose its parameters.
        using (torch.NewDisposeScope())
        using (torch.no_grad())
        {
            bool training = network.training;
            network.eval();
            features = backbone.FeatureMap(torch.zeros(1, 3, info.InputHeight, info.InputWidth)).numel();
            network.train(training);
        }
        return new UncertaintyHead(features, info.EmbeddingSize);
    }

    /// <summary>The backbone split at its feature map (for training a head on it).</summary>
    internal IFeatureMapBackbone Backbone => FeatureMapOf(_network, Info);

    private static IFeatureMapBackbone FeatureMapOf(nn.Module<Tensor, Tensor> network, ModelInfo info) =>
        network as IFeatureMapBackbone ?? throw new ArgumentException($"'{info.Architecture}' exposes no feature map for an uncertainty head.");

    /// <summary>The backbone network.</summary>
    internal nn.Module<Tensor, Tensor> Network => _network;

    /// <summary>The PFE uncertainty head, if the model has one.</summary>
    internal UncertaintyHead? Uncertainty => _uncertainty;

    /// <inheritdoc/>
    /// <remarks>
    /// With a flip test the magnitude is the mean of both copies' norms; the variances are averaged (Add) or set side
    /// by side (Concatenate), as the vectors are.
    /// </remarks>
    public FaceEmbedding[] EmbedFaces(IReadOnlyList<RgbImage> crops, FlipMode flip)
    {
        if (crops.Count == 0) return [];
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = ChannelsLast.From(ToInput(crops, Info));
        var (features, logSigmaSq) = Forward(input);
        var magnitude = features.norm(1);
        if (flip != FlipMode.None)
        {
            // flip keeps the layout, so From only copies if libtorch ever stops doing so.
            var (flipped, flippedLog) = Forward(ChannelsLast.From(input.flip(3)));
            magnitude = TensorSum.Add(magnitude, flipped.norm(1)).mul(Half);
            features = flip == FlipMode.Add ? TensorSum.Add(features, flipped) : torch.cat([features, flipped], 1);
            if (logSigmaSq is not null)
                // Concatenated and normalised, each half of the vector is about 1/sqrt(2) long: the variances scale by 1/2 with it.
                logSigmaSq = flip == FlipMode.Add ? TensorSum.Add(logSigmaSq.exp(), flippedLog!.exp()).mul(Half).log() : torch.cat([logSigmaSq, flippedLog!], 1).sub(LogTwo);
        }
        var vectors = Rows(nn.functional.normalize(features, p: 2, dim: 1));
        var sigmaSq = logSigmaSq is null ? null : Rows(logSigmaSq.exp());
        var norms = magnitude.contiguous().data<float>().ToArray();
        return Enumerable.Range(0, crops.Count).Select(i => FaceEmbedding.Create(vectors[i], norms[i], sigmaSq?[i], Info.Quality)).ToArray();
    }

    private (Tensor Features, Tensor? LogSigmaSq) Forward(Tensor input)
    {
        if (_uncertainty is null) return (_network.call(input), null);
        var map = Backbone.FeatureMap(input);
        return (Backbone.Embed(map), _uncertainty.call(map));
    }

    private static float[][] Rows(Tensor matrix)
    {
        matrix = matrix.contiguous();
        var flat = matrix.data<float>().ToArray();
        int d = (int)matrix.shape[1];
        return Enumerable.Range(0, (int)matrix.shape[0]).Select(i => flat.AsSpan(i * d, d).ToArray()).ToArray();
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
                throw new ArgumentException($"Crop {n}: {info.CropProblem(crop.Width, crop.Height)}.", nameof(crops));
            info.Normalization.WriteChannelsFirst(crop, data.AsSpan(n * 3 * plane, 3 * plane));
        }
        return torch.tensor(data, [crops.Count, 3, h, w]);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.Dispose();
        _uncertainty?.Dispose();
    }
}
