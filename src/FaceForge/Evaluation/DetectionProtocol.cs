using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Imaging;

namespace FaceForge.Evaluation;

/// <summary>Settings of <see cref="DetectionProtocol"/>.</summary>
public sealed record DetectionOptions
{
    /// <summary>IoU for a detection to match a face. <value>The default is 0.5.</value></summary>
    public double Iou { get; init; } = 0.5;

    /// <summary>
    /// Occlusion masks (non-zero where a face is occluded, named as the images): also score the detector's occlusion
    /// segmentation (<see cref="IOcclusionPredictor"/>). Null: not scored.
    /// </summary>
    public string? Masks { get; init; }
}

/// <summary>A detection run.</summary>
/// <param name="Report">AP at the IoU, recall, landmark NME, the precision-recall curve.</param>
/// <param name="Images">Images scored.</param>
/// <param name="OcclusionIou">IoU of predicted and true occluded cells over all images, when masks were given.</param>
public sealed record DetectionOutcome(DetectionReport Report, int Images, double? OcclusionIou);

/// <summary>
/// Detection accuracy against RetinaFace/WIDER-style annotations: detect in every image (decoded once), match
/// detections to faces at an IoU, average precision, recall and landmark NME; with masks, the occlusion-segmentation
/// IoU over stride-8 cells (a cell counts as occluded when most of its pixels are).
/// </summary>
public static class DetectionProtocol
{
    /// <summary>Scores <paramref name="detector"/> on the annotated images under <paramref name="root"/>.</summary>
    /// <exception cref="FileNotFoundException">An annotated image or its mask is missing.</exception>
    /// <exception cref="ArgumentException">Masks were given for a detector without an occlusion branch.</exception>
    public static DetectionOutcome Run(IFaceDetector detector, string root, IReadOnlyList<(string Image, List<AnnotatedFace> Faces)> truth,
        DetectionOptions? options = null, IProgress<int>? progress = null)
    {
        options ??= new DetectionOptions();
        var occlusion = options.Masks is { } masks ? new OcclusionScore(detector, masks) : null;
        var found = new IReadOnlyList<DetectedFace>[truth.Count];
        for (int i = 0; i < truth.Count; i++)
        {
            string path = Path.Combine(root, truth[i].Image);
            if (!File.Exists(path)) throw new FileNotFoundException($"Annotated image '{truth[i].Image}' is not under '{root}'.", path);
            var image = ImageDecoder.Decode(path);
            found[i] = detector.Detect(image);
            occlusion?.Add(truth[i].Image, image);
            progress?.Report(i + 1);
        }
        var report = DetectionMetrics.Compute(truth.Select(t => (IReadOnlyList<AnnotatedFace>)t.Faces).ToList(), found, options.Iou);
        return new DetectionOutcome(report, truth.Count, occlusion?.IoU);
    }

    /// <summary>IoU, over all images' stride-8 cells, of predicted occlusion (p &gt; 0.5) and the masks' (most pixels occluded).</summary>
    private sealed class OcclusionScore
    {
        private readonly IOcclusionPredictor _predictor;
        private readonly string _masks;
        private long _intersection, _union;

        public OcclusionScore(IFaceDetector detector, string masks)
        {
            _predictor = detector is IOcclusionPredictor { PredictsOcclusion: true } predictor ? predictor
                : throw new ArgumentException($"Detector '{detector.Name}' has no occlusion branch, so occlusion masks cannot be scored (train the occlusion-aware architecture).");
            _masks = Directory.Exists(masks) ? masks : throw new DirectoryNotFoundException($"Masks folder '{masks}' does not exist.");
        }

        public double IoU => _union == 0 ? 1 : _intersection / (double)_union;

        public void Add(string name, RgbImage image)
        {
            string maskPath = OcclusionMaskFile.Find(_masks, name);
            var mask = ImageDecoder.Decode(maskPath);
            if (mask.Width != image.Width || mask.Height != image.Height)
                throw new InvalidDataException($"Mask '{maskPath}' is {mask.Width}x{mask.Height}, its image {image.Width}x{image.Height}.");
            var predicted = _predictor.OcclusionProbabilities(image)!;
            var occluded = new bool[image.Width * image.Height];
            for (int p = 0; p < occluded.Length; p++) occluded[p] = mask.Pixels[3 * p] > 0;
            var truth = OcclusionGrid.Cells(occluded, image.Width, image.Height);
            for (int cell = 0; cell < truth.Length; cell++)
            {
                bool guess = predicted[cell] > 0.5f;
                if (truth[cell] && guess) _intersection++;
                if (truth[cell] || guess) _union++;
            }
        }
    }
}
