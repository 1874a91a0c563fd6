using System.CommandLine;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Imaging;
using FaceForge.Training.Detection;

namespace FaceForge.Cli.Commands;

/// <summary>
/// Turns image paths given on the command line into model-ready crops, by the first rule that applies: a landmarks
/// file aligns them; --aligned takes them as crops; an image of exactly the model's crop size is a crop; any other
/// photo goes through a detector (--detector, else the built-in RetinaFace) and its largest face is aligned. So a
/// photo is never silently squeezed into a crop.
/// </summary>
/// <remarks>Not thread-safe (the detector is used from the calling thread); dispose it to release the detector.</remarks>
internal sealed class ImageInputs : IDisposable
{
    private readonly IReadOnlyDictionary<string, FaceLandmarks>? _landmarks;
    private readonly bool _aligned;
    private readonly string? _detectorPath;
    private readonly IFaceEmbedder _embedder;
    private readonly AlignmentTemplate _template;
    private readonly TextWriter _notes;
    private IFaceDetector? _detector;

    private ImageInputs(IReadOnlyDictionary<string, FaceLandmarks>? landmarks, bool aligned, string? detectorPath, IFaceEmbedder embedder, TextWriter notes)
    {
        _landmarks = landmarks;
        _aligned = aligned;
        _detectorPath = detectorPath;
        _embedder = embedder;
        _template = embedder.Info.AlignmentTemplate;
        _notes = notes;
    }

    /// <summary>The --landmarks option.</summary>
    public static Option<string?> LandmarksOption() => new("--landmarks") { Description = "Landmarks file (path x1 y1 … x5 y5) that aligns the images." };

    /// <summary>The --detector option.</summary>
    public static Option<string?> DetectorOption() => new("--detector")
    {
        Description = $"Detector for photos that are not crops (FaceForge detector model or ONNX) [default: the built-in RetinaFace mobilenet0.25]; the largest face is used, exit code {DetectCommand.NoFaceExitCode} if a photo has none.",
    };

    /// <summary>The --aligned option.</summary>
    public static Option<bool> AlignedOption() => new("--aligned") { Description = "The images are aligned face crops, not photos: no face detection. A crop of the model's template's proportions is resized; one of the other known template (112x112 ArcFace, 112x96 SphereFace) is moved into the model's frame; any other is resized whole." };

    /// <summary>The rules for this command line's options.</summary>
    public static ImageInputs From(ParseResult parse, Option<string?> landmarks, Option<string?> detector, Option<bool> aligned, IFaceEmbedder embedder)
    {
        int given = (parse.GetValue(landmarks) is null ? 0 : 1) + (parse.GetValue(detector) is null ? 0 : 1) + (parse.GetValue(aligned) ? 1 : 0);
        if (given > 1) throw new UserErrorException("Give one of --landmarks, --detector and --aligned.");
        return new ImageInputs(Landmarks(parse.GetValue(landmarks)), parse.GetValue(aligned), parse.GetValue(detector), embedder, parse.InvocationConfiguration.Error);
    }

    /// <summary>The crop of <paramref name="path"/>, or null when the detector finds no face in it.</summary>
    public RgbImage? Crop(string path)
    {
        RequireImageFile(path);
        var image = ImageDecoder.Decode(path);
        if (_landmarks is not null) return Prepare(path, image, Lookup(path), _template);
        if (_aligned || (image.Width == _template.Width && image.Height == _template.Height)) return Prepare(path, image, null, _template);
        _detector ??= _detectorPath is null ? TorchFaceDetector.OpenBuiltIn() : ModelInputs.Open(_detectorPath, "--detector");
        if (!_detector.HasLandmarks) throw new UserErrorException($"--detector: '{_detector.Name}' gives no landmarks, so it cannot align faces (use RetinaFace or YuNet).");
        IReadOnlyList<DetectedFace> faces;
        try
        {
            faces = _detector.Detect(image);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"{path}: {e.Message}");
        }
        var face = faces.MaxBy(f => f.Box.Area);
        if (face is null) return null;
        // In a group photo the largest face is a guess at whom the user means: say so, with where it is.
        if (faces.Count > 1)
            _notes.WriteLine($"note: '{path}' holds {faces.Count} faces; using the largest, [{face.Box.Left:0},{face.Box.Top:0},{face.Box.Right:0},{face.Box.Bottom:0}] (crop the photo to choose another).");
        return Prepare(path, image, face.Landmarks, _template);
    }

    /// <summary>
    /// The embeddings of <paramref name="paths"/> in order, null where the detector finds no face; each such path is
    /// named on the error stream, so the caller can print the other results and end with the no-face exit code.
    /// </summary>
    public FaceEmbedding?[] EmbedAll(IReadOnlyList<string> paths, FlipMode flip)
    {
        var crops = new List<RgbImage>();
        var found = new List<int>();
        for (int i = 0; i < paths.Count; i++)
        {
            if (Crop(paths[i]) is { } crop)
            {
                crops.Add(crop);
                found.Add(i);
            }
            else _notes.WriteLine($"no face found in '{paths[i]}'");
        }
        var embedded = EmbeddingBatcher.EmbedAllFaces(_embedder, crops, crop => crop, flip);
        var faces = new FaceEmbedding?[paths.Count];
        for (int k = 0; k < found.Count; k++) faces[found[k]] = embedded[k];
        return faces;
    }

    /// <summary>Fails unless <paramref name="path"/>, an image argument, is a file: naming a folder as such, and an option this command does not have (taken for an image by the parser) as an option.</summary>
    public static void RequireImageFile(string path)
    {
        if (File.Exists(path)) return;
        throw new UserErrorException(Directory.Exists(path) ? $"'{path}' is a folder, not an image."
            : path.StartsWith('-') ? $"'{path}' is not an option of this command (see --help), nor an image file."
            : $"Image '{path}' does not exist.");
    }

    /// <summary>
    /// Commands that take images as aligned crops when given no landmarks or detector: an image (of up to 200 spread over
    /// the list) not of a crop's size is most likely a photo, which would be resized whole. Said in a note with <paramref name="advice"/>
    /// (a note, not an error: crops of other sizes are legitimate). An unreadable image is left to the command's own check.
    /// </summary>
    public static void NoteIfPhotos(IEnumerable<string> paths, TextWriter error, string advice)
    {
        // Headers only, of a sample spread over the list (a set may mix crops and photos): cheap even for thousands.
        var all = paths.Distinct().ToList();
        int step = Math.Max(1, all.Count / 200);
        for (int i = 0; i < all.Count; i += step)
        {
            try
            {
                if (!File.Exists(all[i])) continue;
                var (width, height) = ImageDecoder.Size(all[i]);
                if (AlignmentTemplate.IsCropSize(width, height)) continue;
                error.WriteLine($"note: {all[i]} is {width}x{height}, not an aligned face crop (112x112 or 96x112): without landmarks the images are taken as crops and resized whole. {advice}");
                return;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>Reads a landmarks file option.</summary>
    public static IReadOnlyDictionary<string, FaceLandmarks>? Landmarks(string? path) =>
        path is null ? null : LandmarksFile.Read(File.Exists(path) ? path
            : throw new UserErrorException(Directory.Exists(path) ? $"--landmarks: '{path}' is a folder; give the landmarks file." : $"--landmarks: '{path}' does not exist."));

    /// <inheritdoc/>
    public void Dispose() => _detector?.Dispose();

    /// <summary>Fails naming the landmarks file and the first of <paramref name="keys"/> (relative image paths) it has no points for.</summary>
    public static void RequireLandmarksFor(IReadOnlyDictionary<string, FaceLandmarks> points, IEnumerable<string> keys, string landmarksPath)
    {
        if (keys.FirstOrDefault(k => !points.ContainsKey(k.Replace('\\', '/'))) is { } unmarked)
            throw new UserErrorException($"--landmarks: '{landmarksPath}' has no entry for '{unmarked}' (every image of the pairs needs its five points).");
    }

    /// <summary>The entry of <paramref name="path"/>: looked up by the path as given, then by its last two components, then by file name.</summary>
    private FaceLandmarks Lookup(string path)
    {
        string normal = path.Replace('\\', '/');
        string[] parts = normal.Split('/');
        string[] candidates = [normal, parts.Length >= 2 ? $"{parts[^2]}/{parts[^1]}" : normal, parts[^1]];
        foreach (string key in candidates)
            if (_landmarks!.TryGetValue(key, out var points)) return points;
        throw new UserErrorException($"The landmarks file has no entry for '{path}' (tried {string.Join(", ", candidates.Distinct())}).");
    }

    private static RgbImage Prepare(string path, RgbImage image, FaceLandmarks? points, AlignmentTemplate template)
    {
        try
        {
            return AlignedImageSource.Prepare(image, points, template);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"{path}: {e.Message}");
        }
    }
}
