using System.CommandLine;
using FaceForge.Detection;
using FaceForge.Imaging;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge detect`: faces, scores and landmarks in photos.</summary>
internal static class DetectCommand
{
    /// <summary>Exit code when no image holds a face.</summary>
    public const int NoFaceExitCode = 3;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Detector: FaceForge model file (retinaface-mnet025) or ONNX (YuNet, Ultra-Light).", Required = true };
        var images = new Argument<string[]>("IMAGES") { Description = "Photos.", Arity = ArgumentArity.OneOrMore };
        var draw = new Option<string?>("--draw") { Description = "Write each photo with its detections drawn as DIR/NAME.png." };
        var drawSize = new Option<int?>("--draw-size") { Description = "Longer side of the drawn images (default: the photo's)." };
        var confidence = ModelInputs.Confidence();
        var nms = ModelInputs.Nms();
        var maxSide = ModelInputs.MaxSide();
        var scales = ModelInputs.Scales();
        var noBrighten = ModelInputs.NoBrighten();
        var recognizer = new Option<string?>("--recognizer", "--recognition-model") { Description = "Recognition model: each face is aligned with its landmarks and gets the model's quality (higher is better; MagFace magnitude or PFE uncertainty)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: per image, its faces (box, score, landmarks; quality and sigma_sq_harmonic_mean with --recognizer)." };
        var force = new Option<bool>("--force") { Description = "Replace drawings already in the --draw folder." };
        var command = new Command("detect", $"Detect faces. Exit code {NoFaceExitCode} when no image holds a face.") { model, images, draw, drawSize, confidence, nms, maxSide, scales, noBrighten, recognizer, force, json };
        command.SetAction(parse =>
        {
            string? drawDir = parse.GetValue(draw);
            if (drawDir is not null && File.Exists(drawDir)) throw new UserErrorException($"--draw: '{drawDir}' is a file; give a folder for the drawings.");
            if (parse.GetValue(drawSize) is int requested && requested < 16) throw new UserErrorException($"--draw-size: {requested} is not a size in pixels (at least 16).");
            using var detector = ModelInputs.Open(parse.GetValue(model)!, "--model", parse.GetValue(confidence), parse.GetValue(nms), parse.GetValue(maxSide), parse.GetValue(scales), parse.GetValue(noBrighten));
            using var embedder = parse.GetValue(recognizer) is { } recognizerPath ? ModelInputs.OpenEmbedder(recognizerPath, "--recognizer") : null;
            if (embedder is not null && !detector.HasLandmarks)
                throw new UserErrorException($"--recognizer: faces are aligned by their landmarks, and detector '{detector.Name}' gives none (use RetinaFace or YuNet).");
            // Photos of the same name from different folders get NAME-2.png, NAME-3.png…, never overwriting each other;
            // a drawing already in the folder (an earlier run's) is replaced only with --force.
            var paths = parse.GetValue(images)!;
            var drawnNames = new HashSet<string>(StringComparer.Ordinal);
            var drawings = new List<string>();
            foreach (string path in paths)
            {
                string name = Path.GetFileNameWithoutExtension(path);
                for (int n = 2; !drawnNames.Add(name); n++) name = $"{Path.GetFileNameWithoutExtension(path)}-{n}";
                drawings.Add(drawDir is null ? "" : Path.Combine(drawDir, name + ".png"));
            }
            if (drawDir is not null && !parse.GetValue(force) && drawings.FirstOrDefault(File.Exists) is { } existing)
                throw new UserErrorException($"--draw: '{existing}' exists; pass --force to replace the drawings, or draw into another folder.");
            if (drawDir is not null) Directory.CreateDirectory(drawDir);
            var results = new List<object>();
            var writer = parse.InvocationConfiguration.Output;
            int found = 0;
            for (int index = 0; index < paths.Length; index++)
            {
                string path = paths[index];
                ImageInputs.RequireImageFile(path);
                var image = ImageDecoder.Decode(path);
                IReadOnlyList<DetectedFace> faces;
                try
                {
                    faces = detector.Detect(image);
                }
                catch (ArgumentException e)
                {
                    throw new UserErrorException($"{path}: {e.Message}");
                }
                if (faces.Count > 0) found++;
                var recognised = embedder is null || faces.Count == 0 ? null
                    : embedder.EmbedFaces(faces.Select(f => Embedding.AlignedImageSource.Prepare(image, f.Landmarks, embedder.Info.AlignmentTemplate)).ToList(), Embedding.FlipMode.Add);
                if (drawDir is not null)
                {
                    var drawn = DetectionPainter.Draw(image, faces);
                    if (parse.GetValue(drawSize) is int side && side > 0 && side < Math.Max(image.Width, image.Height))
                    {
                        float f = (float)side / Math.Max(image.Width, image.Height);
                        drawn = ImageResizer.Resize(drawn, Math.Max(1, (int)(image.Width * f)), Math.Max(1, (int)(image.Height * f)));
                    }
                    AtomicFile.WriteAllBytes(drawings[index], ImageEncoder.EncodePng(drawn));
                }
                results.Add(new
                {
                    Image = path, Width = image.Width, Height = image.Height,
                    // Which drawing is this photo's: two photos of one name (a/photo.jpg, b/photo.jpg) get photo.png and photo-2.png.
                    Drawing = drawDir is null ? null : drawings[index],
                    Faces = faces.Select((f, i) => new
                    {
                        Box = new[] { f.Box.Left, f.Box.Top, f.Box.Right, f.Box.Bottom }.Select(v => MathF.Round(v, 1)),
                        Score = MathF.Round(f.Score, 4),
                        Landmarks = f.Landmarks?.ToFlat().Select(v => MathF.Round(v, 1)),
                        recognised?[i].Quality,
                        recognised?[i].SigmaSqHarmonicMean,
                    }),
                });
                if (!parse.GetValue(json))
                {
                    writer.WriteLine($"{path}: {faces.Count} face(s)" + (drawDir is null ? "" : $", drawn in {drawings[index]}"));
                    for (int i = 0; i < faces.Count; i++)
                    {
                        var f = faces[i];
                        writer.WriteLine($"  [{f.Box.Left:0},{f.Box.Top:0},{f.Box.Right:0},{f.Box.Bottom:0}] score {f.Score:0.000}"
                            + (recognised?[i].Quality is double q ? $" quality {q:0.###}" : ""));
                    }
                }
            }
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { Detector = detector.Name, Images = results });
            if (found == 0)
            {
                parse.InvocationConfiguration.Error.WriteLine("no face found");
                return NoFaceExitCode;
            }
            return 0;
        });
        return command;
    }
}
