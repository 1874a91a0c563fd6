using System.Buffers;
using FaceForge.Alignment;
using FaceForge.Imaging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FaceForge.Detection;

/// <summary>
/// Face detectors exported to ONNX, run by ONNX Runtime: FaceForge's own exports (RetinaFace mobilenet0.25 and the
/// occlusion-aware detector: loc/conf/landms per anchor, decoded by <see cref="RetinaFaceDecoder"/>, plus occlusion
/// probabilities), YuNet (OpenCV zoo, 2023 anchor-free layout with cls/obj/
/// bbox/kps outputs per stride; landmarks) and Ultra-Light-Fast-Generic (RFB/slim, fixed input, decoded corner-form
/// boxes; no landmarks). The layout is recognised from the model's outputs.
/// </summary>
/// <remarks>Thread-safe: ONNX Runtime sessions allow concurrent runs.</remarks>
public sealed class OnnxFaceDetector : IFaceDetector, IOcclusionPredictor
{
    private static readonly int[] YuNetStrides = [8, 16, 32];
    private readonly InferenceSession _session;
    private readonly Models.SessionGate _gate;
    private readonly DetectorOptions _options;
    private readonly string _input;
    private readonly bool _yunet, _retinaFace, _occlusion;
    private readonly int _fixedWidth, _fixedHeight;

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">Not an ONNX model, or a layout this class does not know.</exception>
    public OnnxFaceDetector(string path, DetectorOptions? options = null)
    {
        _options = options ?? new DetectorOptions();
        _options.Validate();
        if (!File.Exists(path)) throw new FileNotFoundException($"Detector '{path}' does not exist.", path);
        _session = Models.OnnxModelFile.Open(path, Environment.ProcessorCount);
        _gate = new Models.SessionGate("detector", path);
        _input = _session.InputMetadata.Keys.Single();
        var outputs = _session.OutputMetadata.Keys.ToHashSet();
        var info = Models.OnnxModelMetadata.Read(_session, path);
        if (info is not null && info.Kind != Models.ModelInfo.DetectionKind)
        {
            _session.Dispose();
            throw new InvalidDataException($"{path}: '{info.Architecture}' is a {info.Kind} model, not a face detector.");
        }
        if (outputs.IsSupersetOf(["loc", "conf", "landms"]))
        {
            _retinaFace = true;
            _occlusion = outputs.Contains("occlusion");
        }
        else if (YuNetStrides.All(s => outputs.Contains($"cls_{s}") && outputs.Contains($"obj_{s}") && outputs.Contains($"bbox_{s}") && outputs.Contains($"kps_{s}")))
            _yunet = true;
        else if (outputs.SetEquals(["scores", "boxes"]))
        {
            var dims = _session.InputMetadata[_input].Dimensions;
            (_fixedHeight, _fixedWidth) = (dims[2], dims[3]);
            if (_fixedWidth <= 0 || _fixedHeight <= 0) throw new InvalidDataException($"{path}: Ultra-Light model without a fixed input size.");
        }
        else
        {
            _session.Dispose();
            throw new InvalidDataException($"{path}: unknown detector layout (outputs {string.Join(", ", outputs)}); FaceForge runs its own exported detectors, YuNet and Ultra-Light ONNX models.");
        }
        Name = info?.Architecture ?? Path.GetFileNameWithoutExtension(path);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool HasLandmarks => _yunet || _retinaFace;

    /// <inheritdoc/>
    public bool PredictsOcclusion => _occlusion;

    /// <inheritdoc/>
    public IReadOnlyList<DetectedFace> Detect(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        DetectorOptions.RequireDetectable(image.Width, image.Height);
        if (!_retinaFace) return NonMaximumSuppression.Apply(_yunet ? DetectYuNet(image) : DetectUltraLight(image), _options);
        // As TorchFaceDetector at scale 1, with its coarser second look for faces beyond the anchors' range.
        var (faces, back) = DetectRetinaFace(image, 1);
        faces = NonMaximumSuppression.Apply(faces, _options);
        int largest = RetinaFaceDecoder.MobileNet.LargestAnchor;
        if (!LargeFacePass.Needed(faces, back, largest)) return faces;
        var coarse = NonMaximumSuppression.Apply(DetectRetinaFace(image, LargeFacePass.Scale(image.Width, image.Height, back)).Faces, _options);
        return NonMaximumSuppression.Apply(LargeFacePass.Merge(faces, coarse, back, largest), _options);
    }

    private (List<DetectedFace> Faces, float Back) DetectRetinaFace(RgbImage image, float scale)
    {
        // The image's own size (times scale), huge ones brought down to MaxSide.
        var (input, back) = RetinaFaceDecoder.Prepare(image, scale, _options);
        int w = input.Width, h = input.Height, length = 3 * w * h;
        // From the shared pool: a photo's input is megabytes (see OnnxFaceEmbedder.EmbedFaces).
        var data = ArrayPool<float>.Shared.Rent(length);
        try
        {
            RetinaFaceDecoder.WriteInput(input, data.AsSpan(0, length));
            using var use = _gate.Enter();
            using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, new DenseTensor<float>(data.AsMemory(0, length), [1, 3, h, w]))], ["loc", "conf", "landms"]);
            float[] Output(string name) => results.First(r => r.Name == name).AsEnumerable<float>().ToArray();
            float[] conf = Output("conf");
            var scores = new float[conf.Length / 2];
            for (int i = 0; i < scores.Length; i++) scores[i] = conf[2 * i + 1];
            var decoder = RetinaFaceDecoder.MobileNet;
            return (decoder.Decode(Output("loc"), scores, Output("landms"), decoder.CachedPriors(w, h), w, h, back, _options.ConfidenceThreshold), back);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(data);
        }
    }

    /// <inheritdoc/>
    public float[]? OcclusionProbabilities(RgbImage image)
    {
        if (!_occlusion) return null;
        image = _options.DetectorView(image); // what the boxes were found in
        int length = 3 * image.Width * image.Height;
        var data = ArrayPool<float>.Shared.Rent(length);
        try
        {
            RetinaFaceDecoder.WriteInput(image, data.AsSpan(0, length));
            using var use = _gate.Enter();
            using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, new DenseTensor<float>(data.AsMemory(0, length), [1, 3, image.Height, image.Width]))], ["occlusion"]);
            return results.First().AsEnumerable<float>().ToArray();
        }
        finally
        {
            ArrayPool<float>.Shared.Return(data);
        }
    }

    private List<DetectedFace> DetectYuNet(RgbImage image)
    {
        float factor = Math.Min(1f, (float)_options.MaxSide / Math.Max(image.Width, image.Height));
        var input = _options.DetectorView(factor < 1 ? ImageResizer.Resize(image, Math.Max(8, (int)(image.Width * factor)), Math.Max(8, (int)(image.Height * factor))) : image);
        float back = (float)image.Width / input.Width;
        // Raw BGR 0-255, zero-padded right and bottom to a multiple of 32, as OpenCV's FaceDetectorYN feeds it.
        int w = (input.Width + 31) / 32 * 32, h = (input.Height + 31) / 32 * 32;
        var tensor = new DenseTensor<float>([1, 3, h, w]);
        var pixels = input.Pixels;
        for (int y = 0; y < input.Height; y++)
            for (int x = 0; x < input.Width; x++)
            {
                int p = 3 * (y * input.Width + x);
                tensor[0, 0, y, x] = pixels[p + 2];
                tensor[0, 1, y, x] = pixels[p + 1];
                tensor[0, 2, y, x] = pixels[p];
            }
        using var use = _gate.Enter();
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, tensor)]);
        float[] Output(string name) => results.First(r => r.Name == name).AsEnumerable<float>().ToArray();
        var faces = new List<DetectedFace>();
        Span<float> xy = stackalloc float[10];
        foreach (int s in YuNetStrides)
        {
            float[] cls = Output($"cls_{s}"), obj = Output($"obj_{s}"), bbox = Output($"bbox_{s}"), kps = Output($"kps_{s}");
            int cols = w / s;
            for (int i = 0; i < cls.Length; i++)
            {
                float score = MathF.Sqrt(Math.Clamp(cls[i], 0, 1) * Math.Clamp(obj[i], 0, 1));
                if (score < _options.ConfidenceThreshold) continue;
                int r = i / cols, c = i % cols;
                float cx = (c + bbox[4 * i]) * s, cy = (r + bbox[4 * i + 1]) * s;
                float bw = MathF.Exp(bbox[4 * i + 2]) * s, bh = MathF.Exp(bbox[4 * i + 3]) * s;
                for (int k = 0; k < 5; k++)
                {
                    xy[2 * k] = (kps[10 * i + 2 * k] + c) * s * back;
                    xy[2 * k + 1] = (kps[10 * i + 2 * k + 1] + r) * s * back;
                }
                faces.Add(new DetectedFace(new FaceBox(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2).Scale(back), score, FaceLandmarks.FromFlat(xy)));
            }
        }
        return faces;
    }

    private List<DetectedFace> DetectUltraLight(RgbImage image)
    {
        // RGB (x - 127) / 128 at the model's fixed size; boxes come out corner-form in [0, 1].
        var input = _options.DetectorView(ImageResizer.Resize(image, _fixedWidth, _fixedHeight));
        var tensor = new DenseTensor<float>([1, 3, _fixedHeight, _fixedWidth]);
        var pixels = input.Pixels;
        for (int y = 0; y < _fixedHeight; y++)
            for (int x = 0; x < _fixedWidth; x++)
            {
                int p = 3 * (y * _fixedWidth + x);
                for (int ch = 0; ch < 3; ch++) tensor[0, ch, y, x] = (pixels[p + ch] - 127f) / 128f;
            }
        using var use = _gate.Enter();
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, tensor)]);
        var scores = results.First(r => r.Name == "scores").AsTensor<float>();
        var boxes = results.First(r => r.Name == "boxes").AsTensor<float>();
        int classes = scores.Dimensions[2];
        var faces = new List<DetectedFace>();
        for (int a = 0; a < scores.Dimensions[1]; a++)
        {
            float score = 0;
            for (int k = 1; k < classes; k++) score += scores[0, a, k]; // the masked-face model splits faces in two classes
            if (score < _options.ConfidenceThreshold) continue;
            faces.Add(new DetectedFace(new FaceBox(boxes[0, a, 0] * image.Width, boxes[0, a, 1] * image.Height, boxes[0, a, 2] * image.Width, boxes[0, a, 3] * image.Height), score, null));
        }
        return faces;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_gate.Close()) _session.Dispose();
    }
}
