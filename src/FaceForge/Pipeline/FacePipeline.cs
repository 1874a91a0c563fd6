using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Imaging;

namespace FaceForge.Pipeline;

/// <summary>One analysed face: where it is, its embedding, and simple quality fields.</summary>
/// <param name="Face">The detection.</param>
/// <param name="Embedding">Unit-length embedding of the aligned crop.</param>
/// <param name="InterOcularPixels">Distance between the eyes in the photo (small faces embed poorly).</param>
/// <param name="Yaw">Rough yaw from the landmarks in [-1, 1]: where the nose sits between the eyes (0 frontal).</param>
/// <param name="Quality">The recognition model's quality of this face, higher meaning more trustworthy (MagFace magnitude, or minus the log of PFE's harmonic-mean variance); null when the model carries none.</param>
/// <param name="SigmaSqHarmonicMean">PFE's one-number uncertainty (harmonic mean of the variances), or null.</param>
public sealed record AnalysedFace(DetectedFace Face, float[] Embedding, float InterOcularPixels, float Yaw, double? Quality = null, double? SigmaSqHarmonicMean = null);

/// <summary>The outcome of <see cref="FacePipeline.Verify"/>.</summary>
/// <param name="Score">Cosine similarity of the two faces' embeddings.</param>
/// <param name="Threshold">The threshold used, or null when neither one was given nor the model is calibrated.</param>
/// <param name="Same">Whether the score exceeds the threshold; null without a threshold.</param>
/// <param name="First">The face compared in the first photo.</param>
/// <param name="Second">The face compared in the second photo.</param>
public sealed record FaceVerification(double Score, double? Threshold, bool? Same, AnalysedFace First, AnalysedFace Second);

/// <summary>
/// The pipeline from photo to identities: detect → align each face with its landmarks to the recogniser's template →
/// embed (in batches) → per-face quality fields. It needs only the core's interfaces: the detector and embedder may be
/// ONNX Runtime models of the core or libtorch ones of FaceForge.Training (see <see cref="FaceModels"/>).
/// </summary>
/// <remarks>
/// Thread-safe when both the detector and the embedder are (FaceForge's are: they serialise or allow concurrent
/// calls). Owns neither: dispose them yourself.
/// </remarks>
public sealed class FacePipeline(IFaceDetector detector, IFaceEmbedder embedder, FlipMode flip = FlipMode.Add)
{
    private readonly IFaceEmbedder embedder = embedder ?? throw new ArgumentNullException(nameof(embedder));
    private readonly FlipMode flip = Enum.IsDefined(flip) ? flip : throw new ArgumentException($"Flip mode {(int)flip} is unknown.", nameof(flip));

    /// <summary>The detector.</summary>
    public IFaceDetector Detector { get; } = (detector ?? throw new ArgumentNullException(nameof(detector))).HasLandmarks ? detector
        : throw new ArgumentException($"Detector '{detector.Name}' gives no landmarks; alignment needs a detector with five landmarks (RetinaFace, YuNet).", nameof(detector));

    /// <summary>Every face in <paramref name="image"/>, best detection first.</summary>
    public IReadOnlyList<AnalysedFace> Analyse(RgbImage image) => AnalyseMany([image ?? throw new ArgumentNullException(nameof(image))])[0];

    /// <summary>
    /// Every face of every image: detection batched by the detector, all crops embedded in one call. Detections whose
    /// landmarks no face could have (eyes less than a pixel apart, a point far outside the image, a mirrored or
    /// collapsed arrangement: what a detector run at a very low confidence threshold finds in noise) are left out, not aligned.
    /// </summary>
    public IReadOnlyList<AnalysedFace>[] AnalyseMany(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Any(image => image is null)) throw new ArgumentException($"image {images.Select((image, i) => (image, i)).First(x => x.image is null).i} is null.", nameof(images));
        var found = Detector.DetectMany(images).Select((faces, i) => Alignable(faces, images[i])).ToList();
        var template = embedder.Info.AlignmentTemplate;
        var crops = images.SelectMany((image, i) => found[i].Select(f => AlignedImageSource.Prepare(image, f.Landmarks, template))).ToList();
        var vectors = crops.Count > 0 ? embedder.EmbedFaces(crops, flip) : [];
        int next = 0;
        return found.Select(faces => (IReadOnlyList<AnalysedFace>)faces.Select(f => Describe(f, vectors[next++])).ToList()).ToArray();
    }

    /// <summary>The largest face of <paramref name="image"/>, or null when none is found.</summary>
    public AnalysedFace? Largest(RgbImage image) => Largest(image, flip);

    private AnalysedFace? Largest(RgbImage image, FlipMode mode)
    {
        ArgumentNullException.ThrowIfNull(image);
        var faces = Alignable(Detector.Detect(image), image);
        if (faces.Count == 0) return null;
        var face = faces.MaxBy(f => f.Box.Area)!;
        return Describe(face, embedder.EmbedFaces([AlignedImageSource.Prepare(image, face.Landmarks, embedder.Info.AlignmentTemplate)], mode)[0]);
    }

    /// <summary>
    /// Compares the largest face of each photo at <paramref name="threshold"/>, or else at the model's calibrated
    /// threshold (<see cref="Models.ModelInfo.Threshold"/>), with the embeddings of the flip mode it was measured with
    /// (<see cref="Models.ModelInfo.ThresholdFlip"/>); null when either photo has no face.
    /// </summary>
    public FaceVerification? Verify(RgbImage a, RgbImage b, double? threshold = null)
    {
        var mode = threshold is null && embedder.Info.Threshold is not null && Enum.TryParse<FlipMode>(embedder.Info.ThresholdFlip, out var calibrated) ? calibrated : flip;
        if (Largest(a, mode) is not { } first || Largest(b, mode) is not { } second) return null;
        double score = Similarity.Cosine(first.Embedding, second.Embedding);
        double? t = threshold ?? embedder.Info.Threshold;
        return new FaceVerification(score, t, t is double value ? score > value : null, first, second);
    }

    private List<DetectedFace> Alignable(IReadOnlyList<DetectedFace> faces, RgbImage image) =>
        faces.Where(f => f.Landmarks is { } m && Alignment.FaceAligner.Problem(m, image.Width, image.Height, embedder.Info.AlignmentTemplate) is null).ToList();

    private static AnalysedFace Describe(DetectedFace face, FaceEmbedding embedding)
    {
        var m = face.Landmarks!.Value;
        float eyes = System.Numerics.Vector2.Distance(m.LeftEye, m.RightEye);
        float yaw = eyes > 0 ? Math.Clamp(2 * (m.Nose.X - (m.LeftEye.X + m.RightEye.X) / 2) / eyes, -1, 1) : 0;
        return new AnalysedFace(face, embedding.Vector, eyes, yaw, embedding.Quality, embedding.SigmaSqHarmonicMean);
    }
}
