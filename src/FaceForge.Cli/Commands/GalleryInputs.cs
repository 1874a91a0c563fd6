using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Gallery;
using FaceForge.Imaging;
using FaceForge.Models;

namespace FaceForge.Cli.Commands;

/// <summary>One face found in an image given to a gallery command: its box (photos only) and embedding.</summary>
internal sealed record ImageFace(FaceBox? Box, FaceEmbedding Embedding);

/// <summary>
/// Turns images into embeddings the way a gallery was built: the recorded recognition model (or an override with the
/// same fingerprint) and, when a detector was recorded, the recorded detector on photos; otherwise the images are
/// aligned crops. Enrolment and identification both use the flip test Add.
/// </summary>
/// <remarks>Not thread-safe; dispose it to release the models.</remarks>
internal sealed class GalleryInputs : IDisposable
{
    /// <summary>The flip test used for every gallery embedding (enrolment and probes must agree).</summary>
    public const FlipMode Flip = FlipMode.Add;

    private const int Batch = 32;

    private readonly IFaceEmbedder _embedder;
    private readonly IFaceDetector? _detector;

    private GalleryInputs(IFaceEmbedder embedder, IFaceDetector? detector)
    {
        _embedder = embedder;
        _detector = detector;
    }

    /// <summary>The recognition model.</summary>
    public IFaceEmbedder Embedder => _embedder;

    /// <summary>Whether images are photos (a detector is recorded) rather than aligned crops.</summary>
    public bool Photos => _detector is not null;

    /// <summary>Opens the gallery's model (checked against its fingerprint and embedding size) and detector.</summary>
    public static GalleryInputs Open(FaceGallery gallery, string galleryPath, string? modelOverride, string? detectorOverride = null)
    {
        if (detectorOverride is not null && gallery.Model.DetectorPath is null)
            throw new UserErrorException($"--detector: {galleryPath} was created without a detector, so its faces are aligned crops; probes and enrolments must be crops too.");
        if (detectorOverride is not null && !File.Exists(detectorOverride)) throw new UserErrorException($"--detector: '{detectorOverride}' does not exist.");
        var model = gallery.Model;
        string path = modelOverride ?? model.ModelPath;
        if (modelOverride is null && !File.Exists(path))
            throw new UserErrorException($"{galleryPath}: the gallery's model '{path}' does not exist; give --model with a file of the same weights.");
        if (modelOverride is not null && !File.Exists(path)) throw new UserErrorException($"--model: '{path}' does not exist.");
        string fingerprint = ModelFingerprint.Of(path);
        var embedder = ModelInputs.OpenEmbedder(path, "--model");
        try
        {
            gallery.RequireModel(fingerprint, embedder.Info.EmbeddingSize, $"{embedder.Info.Architecture} {path}");
            IFaceDetector? detector = null;
            if ((detectorOverride ?? model.DetectorPath) is { } detectorPath)
            {
                if (!File.Exists(detectorPath))
                    throw new UserErrorException($"{galleryPath}: the gallery's detector '{detectorPath}' does not exist; give --detector with the detector file (or its ONNX export).");
                detector = ModelInputs.Open(detectorPath, detectorOverride is null ? "detector" : "--detector");
                if (!detector.HasLandmarks)
                {
                    detector.Dispose();
                    throw new UserErrorException($"{galleryPath}: detector '{detectorPath}' gives no landmarks, so it cannot align faces (use RetinaFace or YuNet).");
                }
            }
            return new GalleryInputs(embedder, detector);
        }
        catch
        {
            embedder.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every face of every image, in order. With a detector, photos may hold zero or several faces; without one, each
    /// image is one aligned crop.
    /// </summary>
    /// <param name="paths">The images.</param>
    /// <param name="choose">Which of a photo's detected faces to keep.</param>
    /// <param name="progress">Images done so far.</param>
    /// <param name="unreadable">Given, an image that cannot be decoded is reported to it (path, why) and yields no
    /// face; otherwise it is an error.</param>
    public List<List<ImageFace>> Faces(IReadOnlyList<string> paths, Func<string, IReadOnlyList<DetectedFace>, IReadOnlyList<DetectedFace>> choose, IProgress<int>? progress = null,
        Action<string, string>? unreadable = null)
    {
        var result = new List<List<ImageFace>>(paths.Count);
        for (int start = 0; start < paths.Count; start += Batch)
        {
            var crops = new List<RgbImage>();
            var boxes = new List<List<FaceBox?>>();
            foreach (string path in paths.Skip(start).Take(Batch))
            {
                var found = new List<FaceBox?>();
                RgbImage image;
                try
                {
                    image = Decode(path);
                }
                catch (Exception e) when (unreadable is not null && e is InvalidDataException or UserErrorException)
                {
                    unreadable(path, e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message[path.Length..].TrimStart(':', ' ') : e.Message);
                    boxes.Add(found);
                    continue;
                }
                if (_detector is null)
                {
                    crops.Add(Prepare(path, image, null));
                    found.Add(null);
                }
                else
                {
                    IReadOnlyList<DetectedFace> faces;
                    try
                    {
                        faces = _detector.Detect(image);
                    }
                    catch (ArgumentException e)
                    {
                        throw new UserErrorException($"{path}: {e.Message}");
                    }
                    foreach (var face in choose(path, faces))
                    {
                        crops.Add(Prepare(path, image, face.Landmarks));
                        found.Add(face.Box);
                    }
                }
                boxes.Add(found);
            }
            var embeddings = crops.Count > 0 ? _embedder.EmbedFaces(crops, Flip) : [];
            int next = 0;
            foreach (var found in boxes) result.Add(found.Select(box => new ImageFace(box, embeddings[next++])).ToList());
            progress?.Report(Math.Min(paths.Count, start + Batch));
        }
        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _detector?.Dispose();
        _embedder.Dispose();
    }

    private static RgbImage Decode(string path)
    {
        ImageInputs.RequireImageFile(path);
        return ImageDecoder.Decode(path);
    }

    private RgbImage Prepare(string path, RgbImage image, FaceLandmarks? landmarks)
    {
        try
        {
            return AlignedImageSource.Prepare(image, landmarks, _embedder.Info.AlignmentTemplate);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"{path}: {e.Message}");
        }
    }
}
