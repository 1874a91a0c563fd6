using FaceForge.Detection;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Training.Runtime;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>
/// Runs a RetinaFace-style network (<see cref="DetectorCatalog"/>) on whole images: BGR minus (104, 117, 123) at
/// the image's own size (downscaled above <see cref="DetectorOptions.MaxSide"/>), optional extra scales, anchors
/// decoded, then NMS.
/// </summary>
/// <remarks>Thread-safe: calls are serialised on one network.</remarks>
public sealed class TorchFaceDetector : IFaceDetector, IOcclusionPredictor
{
    private readonly nn.Module<Tensor, DetectionOutput> _network;
    private readonly DetectorOptions _options;
    private readonly float[] _scales;
    private readonly object _gate = new();

    /// <summary>Wraps <paramref name="network"/>; <paramref name="scales"/> lists extra input scales (1 is always run).</summary>
    public TorchFaceDetector(nn.Module<Tensor, DetectionOutput> network, string name, DetectorOptions? options = null, IReadOnlyList<float>? scales = null)
    {
        _options = options ?? new DetectorOptions();
        _options.Validate();
        _network = network;
        _network.eval();
        Name = name;
        _scales = [1f, .. (scales ?? []).Where(s => s > 0 && s != 1)];
    }

    /// <summary>Opens a FaceForge detector model file.</summary>
    /// <exception cref="InvalidDataException">The file is not a detector, or its weights do not fit the architecture.</exception>
    public static TorchFaceDetector Open(string path, DetectorOptions? options = null, IReadOnlyList<float>? scales = null)
    {
        TorchRuntime.EnsureLoaded();
        var (info, weights) = ModelFile.Read(path);
        return FromWeights(info, weights, path, options, scales);
    }

    /// <summary>
    /// The detector built into FaceForge.Training: RetinaFace mobilenet0.25 (biubug6/Face-Detector-1MB-with-landmark,
    /// MIT), the weights that made LFW's reference landmarks. Nothing is downloaded: it is an embedded resource.
    /// </summary>
    public static TorchFaceDetector OpenBuiltIn(DetectorOptions? options = null, IReadOnlyList<float>? scales = null)
    {
        TorchRuntime.EnsureLoaded();
        const string name = "FaceForge.Training.retinaface-mnet025.ffm";
        using var stream = typeof(TorchFaceDetector).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The built-in detector resource '{name}' is missing from {typeof(TorchFaceDetector).Assembly.GetName().Name}.");
        var (info, weights) = ModelFile.Read(stream, "built-in retinaface-mnet025");
        return FromWeights(info, weights, "built-in retinaface-mnet025", options, scales);
    }

    private static TorchFaceDetector FromWeights(ModelInfo info, IReadOnlyDictionary<string, Formats.PyTorch.TensorData> weights, string path, DetectorOptions? options, IReadOnlyList<float>? scales)
    {
        if (info.Kind != ModelInfo.DetectionKind)
            throw new InvalidDataException($"{path}: '{info.Architecture}' is a {info.Kind} model, not a face detector.");
        nn.Module<Tensor, DetectionOutput> network;
        try
        {
            network = DetectorCatalog.Create(info);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        StateDict.Load(network, weights, strict: true, path);
        return new TorchFaceDetector(network, info.Architecture, options, scales);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool HasLandmarks => true;

    /// <inheritdoc/>
    public IReadOnlyList<DetectedFace> Detect(RgbImage image) => DetectMany([image])[0];

    /// <summary>Detects faces in several images; images of the same size run as one batch.</summary>
    public IReadOnlyList<IReadOnlyList<DetectedFace>> DetectMany(IReadOnlyList<RgbImage> images)
    {
        var results = new List<DetectedFace>[images.Count];
        var back = new float[images.Count];
        for (int i = 0; i < images.Count; i++) results[i] = [];
        foreach (float scale in _scales)
        {
            var prepared = images.Select(image => RetinaFaceDecoder.Prepare(image, scale, _options)).ToArray();
            if (scale == 1) for (int i = 0; i < images.Count; i++) back[i] = prepared[i].Back;
            DetectPrepared(prepared, results);
        }
        var faces = results.Select(r => NonMaximumSuppression.Apply(r, _options)).ToArray();
        // Faces beyond the anchors' range: the images that hold one run again, coarser (LargeFacePass).
        var decoder = RetinaFaceDecoder.MobileNet;
        int[] large = Enumerable.Range(0, images.Count).Where(i => LargeFacePass.Needed(faces[i], back[i], decoder.LargestAnchor)).ToArray();
        if (large.Length > 0)
        {
            var coarse = new List<DetectedFace>[large.Length];
            for (int k = 0; k < large.Length; k++) coarse[k] = [];
            DetectPrepared(large.Select(i => RetinaFaceDecoder.Prepare(images[i], LargeFacePass.Scale(images[i].Width, images[i].Height, back[i]), _options)).ToArray(), coarse);
            for (int k = 0; k < large.Length; k++)
            {
                int i = large[k];
                faces[i] = NonMaximumSuppression.Apply(LargeFacePass.Merge(faces[i], NonMaximumSuppression.Apply(coarse[k], _options), back[i], decoder.LargestAnchor), _options);
            }
        }
        return faces;
    }

    /// <summary>Runs the network on prepared images (those of one size as a batch) and adds each one's decoded candidates to <paramref name="results"/>.</summary>
    private void DetectPrepared((RgbImage Image, float Back)[] prepared, List<DetectedFace>[] results)
    {
        foreach (var group in Enumerable.Range(0, prepared.Length).GroupBy(i => (prepared[i].Image.Width, prepared[i].Image.Height)))
        {
            int[] members = group.ToArray();
            var (w, h) = group.Key;
            var decoded = Run(members.Select(i => prepared[i].Image).ToArray(), w, h);
            for (int m = 0; m < members.Length; m++)
            {
                var (boxes, scores, landmarks) = decoded[m];
                results[members[m]].AddRange(RetinaFaceDecoder.MobileNet.Decode(boxes, scores, landmarks, RetinaFaceDecoder.MobileNet.CachedPriors(w, h), w, h, prepared[members[m]].Back, _options.ConfidenceThreshold));
            }
        }
    }

    private (float[] Boxes, float[] Scores, float[] Landmarks)[] Run(RgbImage[] batch, int w, int h)
    {
        var input = new float[batch.Length * 3 * h * w];
        for (int b = 0; b < batch.Length; b++) RetinaFaceDecoder.WriteInput(batch[b], input.AsSpan(b * 3 * h * w, 3 * h * w));
        lock (_gate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.inference_mode();
            var output = _network.call(torch.tensor(input, [batch.Length, 3, h, w]));
            var scores = nn.functional.softmax(output.Logits, -1).select(2, 1);
            return Enumerable.Range(0, batch.Length).Select(b => (
                output.Boxes[b].contiguous().data<float>().ToArray(),
                scores[b].contiguous().data<float>().ToArray(),
                output.Landmarks[b].contiguous().data<float>().ToArray())).ToArray();
        }
    }

    /// <summary>Whether the network predicts occlusion (the occlusion-aware architecture).</summary>
    public bool PredictsOcclusion => _network is OcclusionAwareDetector;

    /// <summary>
    /// Per stride-8 cell of <paramref name="image"/> (rows = ceil(H/8), columns = ceil(W/8), row-major), the
    /// probability that a face is occluded there; null for networks without the occlusion branch.
    /// </summary>
    public float[]? OcclusionProbabilities(RgbImage image)
    {
        if (_network is not OcclusionAwareDetector aofd) return null;
        image = _options.DetectorView(image); // what the boxes were found in
        var input = new float[3 * image.Width * image.Height];
        RetinaFaceDecoder.WriteInput(image, input);
        lock (_gate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.inference_mode();
            var features = aofd.Detector.Features(torch.tensor(input, [1, 3, image.Height, image.Width]));
            return torch.sigmoid(aofd.Occlusion(features[0])).contiguous().data<float>().ToArray();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _network.Dispose();
}
