using FaceForge.Alignment;

namespace FaceForge.Detection;

/// <summary>
/// RetinaFace's anchors and output decoding (SSD-style priors, variances 0.1 and 0.2), shared by every network that
/// predicts offsets from these priors, whatever runs it (TorchSharp or ONNX Runtime).
/// </summary>
public sealed class RetinaFaceDecoder
{
    /// <summary>The mobilenet0.25 configuration of Face-Detector-1MB-with-landmark: anchors of 10/20, 32/64, 128/256 px on strides 8, 16, 32.</summary>
    public static RetinaFaceDecoder MobileNet { get; } = new([[10, 20], [32, 64], [128, 256]], [8, 16, 32]);

    private const float CentreVariance = 0.1f, SizeVariance = 0.2f;
    private static readonly float[] BgrMean = [104, 117, 123];

    // Priors by input size. Bounded: a service sees a new photo size with nearly every request, and each entry of a
    // 640x480 input holds 200 kB.
    private const int CachedSizes = 32;
    private readonly Dictionary<(int, int), float[]> _priors = [];

    /// <summary>BGR planes (channel 0 is blue) minus RetinaFace's mean (104, 117, 123), as its weights expect.</summary>
    public static void WriteInput(Imaging.RgbImage image, Span<float> destination)
    {
        var pixels = image.Pixels;
        int plane = image.Width * image.Height;
        for (int p = 0; p < plane; p++)
        {
            destination[p] = pixels[3 * p + 2] - BgrMean[0];
            destination[plane + p] = pixels[3 * p + 1] - BgrMean[1];
            destination[2 * plane + p] = pixels[3 * p] - BgrMean[2];
        }
    }

    /// <summary>
    /// The image a RetinaFace network runs on: scaled by <paramref name="scale"/> after huge images come down to
    /// <paramref name="options"/>' MaxSide, then brightened if dark (<see cref="DetectorOptions.DetectorView"/>: on
    /// the smaller image, so a huge photo is not copied whole); <c>Back</c> maps its coordinates to the original's.
    /// </summary>
    public static (Imaging.RgbImage Image, float Back) Prepare(Imaging.RgbImage image, float scale, DetectorOptions options)
    {
        DetectorOptions.RequireDetectable(image.Width, image.Height);
        float factor = scale * Math.Min(1f, (float)options.MaxSide / Math.Max(image.Width, image.Height));
        if (Math.Abs(factor - 1) < 1e-6) return (options.DetectorView(image), 1);
        int w = Math.Max(8, (int)MathF.Round(image.Width * factor)), h = Math.Max(8, (int)MathF.Round(image.Height * factor));
        return (options.DetectorView(Imaging.ImageResizer.Resize(image, w, h)), (float)image.Width / w);
    }

    /// <summary>The largest anchor's side in input pixels (faces much larger are found only in parts).</summary>
    public int LargestAnchor => MinSizes.Max(sizes => sizes.Max());

    /// <summary>Creates a decoder for anchors of <paramref name="minSizes"/> pixels on feature maps of <paramref name="steps"/> strides.</summary>
    public RetinaFaceDecoder(int[][] minSizes, int[] steps)
    {
        if (minSizes.Length != steps.Length) throw new ArgumentException("One list of anchor sizes per stride is needed.", nameof(minSizes));
        MinSizes = minSizes;
        Steps = steps;
    }

    /// <summary>Anchor sizes per level, in pixels.</summary>
    public int[][] MinSizes { get; }

    /// <summary>Stride of each level.</summary>
    public int[] Steps { get; }

    /// <summary>Priors (cx, cy, w, h, normalised to the input) for a <paramref name="width"/> x <paramref name="height"/> input, in the network's output order.</summary>
    public float[] Priors(int width, int height)
    {
        var priors = new List<float>();
        for (int k = 0; k < Steps.Length; k++)
        {
            int rows = (height + Steps[k] - 1) / Steps[k], cols = (width + Steps[k] - 1) / Steps[k];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    foreach (int size in MinSizes[k])
                    {
                        priors.Add((j + 0.5f) * Steps[k] / width);
                        priors.Add((i + 0.5f) * Steps[k] / height);
                        priors.Add((float)size / width);
                        priors.Add((float)size / height);
                    }
        }
        return priors.ToArray();
    }

    /// <summary><see cref="Priors"/>, kept for the last sizes asked for (the returned array must not be changed). Thread-safe.</summary>
    public float[] CachedPriors(int width, int height)
    {
        lock (_priors)
        {
            if (_priors.TryGetValue((width, height), out var priors)) return priors;
            if (_priors.Count >= CachedSizes) _priors.Clear();
            return _priors[(width, height)] = Priors(width, height);
        }
    }

    /// <summary>
    /// Candidate faces (above the confidence threshold, before NMS) from raw outputs for one image: <paramref name="boxes"/> N x 4 offsets, <paramref name="scores"/> N face
    /// probabilities, <paramref name="landmarks"/> N x 10 offsets (or empty). Coordinates come out in the input's pixels
    /// times <paramref name="scale"/> (to undo a resize).
    /// </summary>
    public List<DetectedFace> Decode(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, ReadOnlySpan<float> landmarks, float[] priors,
        int width, int height, float scale, float confidenceThreshold)
    {
        int n = scores.Length;
        if (priors.Length != n * 4 || boxes.Length != n * 4 || (landmarks.Length != 0 && landmarks.Length != n * 10))
            throw new ArgumentException($"Network output does not fit {priors.Length / 4} anchors for a {width}x{height} input (got {n} scores).");
        var candidates = new List<DetectedFace>();
        Span<float> xy = stackalloc float[10];
        for (int a = 0; a < n; a++)
        {
            if (scores[a] < confidenceThreshold) continue;
            float pcx = priors[4 * a], pcy = priors[4 * a + 1], pw = priors[4 * a + 2], ph = priors[4 * a + 3];
            float cx = pcx + boxes[4 * a] * CentreVariance * pw, cy = pcy + boxes[4 * a + 1] * CentreVariance * ph;
            float w = pw * MathF.Exp(boxes[4 * a + 2] * SizeVariance), h = ph * MathF.Exp(boxes[4 * a + 3] * SizeVariance);
            float sx = width * scale, sy = height * scale;
            var box = new FaceBox((cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy);
            if (landmarks.Length == 0) { candidates.Add(new DetectedFace(box, scores[a], null)); continue; }
            for (int p = 0; p < 5; p++)
            {
                xy[2 * p] = (pcx + landmarks[10 * a + 2 * p] * CentreVariance * pw) * sx;
                xy[2 * p + 1] = (pcy + landmarks[10 * a + 2 * p + 1] * CentreVariance * ph) * sy;
            }
            candidates.Add(new DetectedFace(box, scores[a], FaceLandmarks.FromFlat(xy)));
        }
        return candidates;
    }
}
