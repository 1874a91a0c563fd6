using System.Text.Json;
using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Evaluation;
using FaceForge.Imaging;
using FaceForge.Pipeline;
using FaceForge.Synthesis;
using FaceForge.Training.Detection;
using Xunit;

namespace FaceForge.Tests;

/// <summary>The imported RetinaFace model, written once for the detection tests.</summary>
public sealed class RetinaFaceFixture
{
    public RetinaFaceFixture()
    {
        if (TestPaths.Shared is not { } shared) return;
        Model = Path.Combine(TestPaths.NewTempDirectory("retinaface"), "retinaface.ffm");
        var (code, _, error) = CliHarness.Run("model", "import", "--from", Path.Combine(shared, "models/retinaface-mnet025/mobilenet0.25_Final.pth"), "--arch", "retinaface-mnet025", "--out", Model);
        if (code != 0) throw new InvalidOperationException(error);
    }

    public string? Model { get; }
}

public class DetectionTests(RetinaFaceFixture retina) : IClassFixture<RetinaFaceFixture>
{
    private static string Lfw(string relative) => Path.Combine(TestPaths.Shared!, "data/lfw", relative);

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void ImportedRetinaFaceReproducesTheSharedLfwLandmarks()
    {
        // landmarks.txt was made by PyTorch with these weights: a faithful port lands within a fraction of a pixel.
        var reference = LandmarksFile.Read(Lfw("landmarks.txt"));
        using var detector = TorchFaceDetector.Open(retina.Model!);
        foreach (string key in reference.Keys.Take(12))
        {
            var image = ImageDecoder.Decode(Lfw("images/" + key));
            var face = IFaceDetector.NearestCentre(detector.Detect(image), image.Width, image.Height);
            Assert.NotNull(face);
            Assert.True(face.Score > 0.5f);
            var error = face.Landmarks!.Value.ToArray().Zip(reference[key].ToArray(), (a, b) => System.Numerics.Vector2.Distance(a, b)).Max();
            Assert.True(error < 0.5f, $"{key}: a landmark is {error:0.00} px from the reference");
        }
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void EvalLandmarksReportsDetectionRateAndNme()
    {
        var (code, output, error) = CliHarness.Run("eval", "landmarks", "--model", retina.Model!, "--images", Lfw("images"), "--landmarks", Lfw("landmarks.txt"), "--limit", "24", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(1.0, json.GetProperty("detection_rate").GetDouble());
        Assert.True(json.GetProperty("nme").GetDouble() < 0.005, output);
    }

    [SharedFact("models/yunet/face_detection_yunet.onnx")]
    public void OnnxDetectorsFindTheLfwFace()
    {
        var image = ImageDecoder.Decode(Lfw("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"));
        var truth = LandmarksFile.Read(Lfw("landmarks.txt"))["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"];
        using (var yunet = new OnnxFaceDetector(Path.Combine(TestPaths.Shared!, "models/yunet/face_detection_yunet.onnx")))
        {
            var face = IFaceDetector.NearestCentre(yunet.Detect(image), image.Width, image.Height);
            Assert.NotNull(face);
            Assert.True(LandmarkMetrics.Nme(face.Landmarks!.Value, truth) < 0.2, "YuNet's landmarks are far from RetinaFace's");
        }
        using var ultra = new OnnxFaceDetector(Path.Combine(TestPaths.Shared!, "models/ultralight/version-RFB-320.onnx"));
        Assert.False(ultra.HasLandmarks);
        var box = IFaceDetector.NearestCentre(ultra.Detect(image), image.Width, image.Height)!.Box;
        Assert.True(box.Centre.X is > 100 and < 150 && box.Centre.Y is > 100 and < 160, $"box centre {box.Centre}");
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void DetectCliDrawsAndSignalsImagesWithoutFaces()
    {
        string dir = TestPaths.NewTempDirectory("detect-cli");
        string photo = Path.Combine(TestPaths.Shared!, "data/photos/sample1.jpg");
        var (code, output, error) = CliHarness.Run("detect", "--model", retina.Model!, photo, "--draw", dir, "--json");
        Assert.True(code == 0, error);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("images")[0].GetProperty("faces").GetArrayLength() >= 2);
        Assert.True(File.Exists(Path.Combine(dir, "sample1.png")));
        Assert.Equal(Path.Combine(dir, "sample1.png"), JsonDocument.Parse(output).RootElement.GetProperty("images")[0].GetProperty("drawing").GetString());
        // An earlier drawing is replaced only with --force.
        (code, _, error) = CliHarness.Run("detect", "--model", retina.Model!, photo, "--draw", dir);
        Assert.Equal(2, code);
        Assert.Contains("sample1.png' exists; pass --force", error);
        Assert.Equal(0, CliHarness.Run("detect", "--model", retina.Model!, photo, "--draw", dir, "--force").Code);

        string blank = Path.Combine(dir, "blank.png");
        File.WriteAllBytes(blank, ImageEncoder.EncodePng(new RgbImage(96, 96)));
        (code, _, error) = CliHarness.Run("detect", "--model", retina.Model!, blank);
        Assert.Equal(DetectCommandExitCodes.NoFace, code);
        Assert.Contains("no face found", error);

        string tiny = Path.Combine(dir, "tiny.png");
        File.WriteAllBytes(tiny, ImageEncoder.EncodePng(new RgbImage(4, 4)));
        (code, _, error) = CliHarness.Run("detect", "--model", retina.Model!, tiny);
        Assert.Equal(2, code);
        Assert.Contains("too small", error);

        string corrupt = Path.Combine(dir, "corrupt.jpg");
        File.WriteAllBytes(corrupt, [0xFF, 0xD8, 0xFF, 0x00, 0x01]);
        (code, _, error) = CliHarness.Run("detect", "--model", retina.Model!, corrupt);
        Assert.Equal(2, code);
        Assert.Contains("corrupt.jpg", error);
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void HugeImagesAreDownscaledAndMappedBack()
    {
        var image = ImageDecoder.Decode(Lfw("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"));
        var big = ImageResizer.Resize(image, 2500, 2500);
        using var detector = TorchFaceDetector.Open(retina.Model!, new DetectorOptions { MaxSide = 500 });
        var face = IFaceDetector.NearestCentre(detector.Detect(big), big.Width, big.Height)!;
        // Detected at 500 px, reported in the 2500 px image: ten times the 250 px coordinates.
        var truth = LandmarksFile.Read(Lfw("landmarks.txt"))["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"];
        Assert.True(LandmarkMetrics.Nme(face.Landmarks!.Value, truth.Select(p => p * 10)) < 0.05);

        // Extra scales merge into one set of faces by NMS: still one face here, in the right place.
        using var multiScale = TorchFaceDetector.Open(retina.Model!, null, [0.5f, 2f]);
        var faces = multiScale.Detect(image);
        Assert.Single(faces, f => f.Box.IoU(face.Box.Scale(0.1f)) > 0.3f);
        Assert.True(LandmarkMetrics.Nme(IFaceDetector.NearestCentre(faces, 250, 250)!.Landmarks!.Value, truth) < 0.05);
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void AFaceFillingThePhotoIsFoundWholeOnce()
    {
        // A close-up (an ID photo, a selfie): the face's 120-pixel square from an LFW photo, enlarged. Beyond the
        // anchors' 256 pixels the first pass finds parts of it; the coarser pass finds it whole, once.
        var photo = ImageDecoder.Decode(Lfw("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"));
        var truth = LandmarksFile.Read(Lfw("landmarks.txt"))["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"];
        const int left = 65, top = 70, side = 120;
        var square = new RgbImage(side, side);
        for (int y = 0; y < side; y++) photo.Pixels.Slice(((top + y) * photo.Width + left) * 3, side * 3).CopyTo(square.Pixels.Slice(y * side * 3, side * 3));
        using var detector = TorchFaceDetector.Open(retina.Model!);
        foreach (int size in new[] { 640, 1000 })
        {
            float factor = size / (float)side;
            var faces = detector.Detect(ImageResizer.Resize(square, size, size));
            var face = Assert.Single(faces);
            var expected = truth.Select(p => new System.Numerics.Vector2((p.X - left) * factor, (p.Y - top) * factor));
            double nme = LandmarkMetrics.Nme(face.Landmarks!.Value, expected);
            Assert.True(nme < 0.1, $"{size} px: NME {nme}");
        }
    }

    [SharedFact("data/lfw/landmarks.txt")]
    public void DataAlignTurnsFoldersOfPhotosIntoAlignedCrops()
    {
        // A user's own face set: identity folders of photos, one without a face, one not an image.
        string dir = TestPaths.NewTempDirectory("data-align"), photos = Path.Combine(dir, "photos"), aligned = Path.Combine(dir, "aligned");
        string[] names = ["Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg"];
        foreach (string name in names)
        {
            Directory.CreateDirectory(Path.Combine(photos, Path.GetDirectoryName(name)!));
            File.Copy(Lfw("images/" + name), Path.Combine(photos, name));
        }
        ImageEncoder.Save(new RgbImage(120, 120), Path.Combine(photos, "Aaron_Peirsol", "blank.png"));
        ImageEncoder.Save(new RgbImage(1, 1), Path.Combine(photos, "Aaron_Peirsol", "dot.png"));
        // A tab in a file name must not split its skipped.txt row.
        ImageEncoder.Save(new RgbImage(120, 120), Path.Combine(photos, "Aaron_Peirsol", "tab\there.png"));
        // The same photo as PNG beside its JPEG: two crops, neither overwriting the other.
        ImageEncoder.Save(ImageDecoder.Decode(Lfw("images/" + names[0])), Path.Combine(photos, "Aaron_Eckhart", "Aaron_Eckhart_0001.png"));
        File.WriteAllText(Path.Combine(photos, "Aaron_Eckhart", "notes.jpg"), "not an image");
        // An --out that is a link into the photos would replace them.
        string link = Path.Combine(dir, "link");
        Directory.CreateSymbolicLink(link, Path.Combine(photos, "Aaron_Eckhart"));
        Assert.Equal(2, CliHarness.Run("data", "align", "--images", photos, "--out", link, "--force", "--skip-bad").Code);
        Assert.True(File.Exists(Path.Combine(photos, names[0])));
        var (code, _, error) = CliHarness.Run("data", "align", "--images", photos, "--out", aligned);
        Assert.Equal(2, code);
        Assert.Contains("notes.jpg", error);
        Assert.False(Directory.Exists(aligned) && Directory.EnumerateFileSystemEntries(aligned).Any(), "a failed run left files");
        (code, var output, error) = CliHarness.Run("data", "align", "--images", photos, "--out", aligned, "--skip-bad", "--pick", "centre", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal((4, 3, 1), (json.GetProperty("written").GetInt32(), json.GetProperty("no_face").GetInt32(), json.GetProperty("bad").GetInt32()));
        Assert.Equal(8, json.GetProperty("images").GetInt32());
        var skipped = File.ReadAllLines(Path.Combine(aligned, "skipped.txt"));
        Assert.All(skipped, line => Assert.Equal(2, line.Split('\t').Length));
        Assert.Contains(skipped, line => line.StartsWith("Aaron_Peirsol/tab\\there.png\tno face found", StringComparison.Ordinal));
        Assert.Contains(skipped, line => line.StartsWith("Aaron_Peirsol/blank.png\tno face found", StringComparison.Ordinal));
        Assert.Contains(skipped, line => line.StartsWith("Aaron_Peirsol/dot.png\tno face found (the image is 1x1)", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(aligned, "Aaron_Eckhart", "Aaron_Eckhart_0001.png.png")));
        // Photos with several faces are named, one per line, as many as counted.
        var several = File.ReadAllLines(Path.Combine(aligned, "several-faces.txt"));
        Assert.Equal(json.GetProperty("several_faces").GetInt32(), several.Length);
        Assert.All(several, line => Assert.Matches(@"^Aaron_\w+/[\w.]+\t\d+ faces, the one nearest the centre taken$", line));
        // The built-in RetinaFace made landmarks.txt: its crops are the reference landmarks' crops, to a level or two.
        var reference = LandmarksFile.Read(Lfw("landmarks.txt"));
        foreach (string name in names)
        {
            var crop = ImageDecoder.Decode(Path.Combine(aligned, Path.ChangeExtension(name, ".png")));
            var expected = FaceAligner.Align(ImageDecoder.Decode(Lfw("images/" + name)), reference[name], AlignmentTemplate.ArcFace112);
            Assert.Equal((112, 112), (crop.Width, crop.Height));
            double difference = 0;
            for (int i = 0; i < crop.Pixels.Length; i++) difference += Math.Abs(crop.Pixels[i] - expected.Pixels[i]);
            Assert.True(difference / crop.Pixels.Length < 3, $"{name}: mean difference {difference / crop.Pixels.Length:0.0} levels from the reference crop");
        }
        // An existing --out is replaced only with --force.
        (code, _, error) = CliHarness.Run("data", "align", "--images", photos, "--out", aligned, "--skip-bad");
        Assert.Equal(2, code);
        Assert.Contains("--force", error);
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void ADarkPhotoIsBrightenedForTheDetectorOnly()
    {
        // sample5 holds five faces; at a tenth of its levels (a photo taken in poor light) RetinaFace alone finds two.
        var photo = ImageDecoder.Decode(Path.Combine(TestPaths.Shared!, "data/photos/sample5.jpg"));
        var dark = photo.Clone();
        var pixels = dark.Pixels;
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(pixels[i] / 10);
        var untouched = dark.Clone();
        using var detector = TorchFaceDetector.Open(retina.Model!);
        using var plain = TorchFaceDetector.Open(retina.Model!, new DetectorOptions { BrightenDarkPhotos = false });
        var clean = detector.Detect(photo);
        Assert.Equal(5, clean.Count);
        Assert.True(plain.Detect(dark).Count < 5, "the test's darkening no longer hides faces from the plain detector");
        var found = detector.Detect(dark);
        Assert.Equal(5, found.Count);
        foreach (var face in clean)
        {
            var mate = found.MaxBy(f => f.Box.IoU(face.Box))!;
            Assert.True(mate.Box.IoU(face.Box) > 0.7, $"a face at {face.Box} found at {mate.Box}");
            Assert.True(LandmarkMetrics.Nme(mate.Landmarks!.Value, face.Landmarks!.Value) < 0.1);
        }
        Assert.True(untouched.Pixels.SequenceEqual(dark.Pixels), "the caller's photo was changed");
        // A well-lit photo reaches the detector as it is.
        Assert.Same(photo, DarkPhotoStretch.Apply(photo));
    }

    [Fact]
    public void DarkPhotoStretchMapsBlackAndWhitePointsWithOneCurveForAllChannels()
    {
        // Grey levels 30 and 60 (half each) and one coloured pixel: a dark photo, black point 30, white point 60.
        var image = new RgbImage(64, 64);
        var pixels = image.Pixels;
        for (int p = 0; p < 64 * 64; p++) pixels.Slice(3 * p, 3).Fill((byte)(p % 2 == 0 ? 30 : 60));
        (pixels[0], pixels[1], pixels[2]) = (60, 45, 30);
        Assert.Equal((30, 60), DarkPhotoStretch.Levels(image));
        var bright = DarkPhotoStretch.Apply(image).Pixels;
        Assert.Equal(new byte[] { 0, 0, 0 }, bright.Slice(6, 3).ToArray());
        Assert.Equal(Enumerable.Repeat((byte)DarkPhotoStretch.TargetWhite, 3), bright.Slice(3, 3).ToArray());
        // The coloured pixel: each channel through the same curve, (v - 30) * 230 / 30.
        Assert.Equal(new byte[] { 230, 115, 0 }, bright.Slice(0, 3).ToArray());
        // An all-black photo stays black; a well-lit one is returned as it is.
        Assert.True(DarkPhotoStretch.Apply(new RgbImage(16, 16)).Pixels.ToArray().All(v => v == 0));
        var light = new RgbImage(16, 16);
        light.Pixels.Fill(200);
        Assert.Same(light, DarkPhotoStretch.Apply(light));
        // A photo lit red is not dark (its luminance is, 0.3 x 220 = 66): stretching it would clip the red channel.
        var red = new RgbImage(16, 16);
        for (int p = 0; p < 16 * 16; p++) (red.Pixels[3 * p], red.Pixels[3 * p + 1], red.Pixels[3 * p + 2]) = (220, 20, 20);
        Assert.Same(red, DarkPhotoStretch.Apply(red));
        // Between mid-grey and a quarter the stretch grows from nothing: a shade darker than mid-grey is almost untouched.
        var dim = new RgbImage(16, 16);
        dim.Pixels.Fill(127);
        Assert.InRange(DarkPhotoStretch.Apply(dim).Pixels[0], 127, 130);
        dim.Pixels.Fill(100);
        Assert.InRange(DarkPhotoStretch.Apply(dim).Pixels[0], 101, 200); // partly stretched at 100: more than a shade, less than in full
        dim.Pixels.Fill(60);
        Assert.Equal(DarkPhotoStretch.TargetWhite, DarkPhotoStretch.Apply(dim).Pixels[0]);
    }

    [Fact]
    public void LargeFacePassKeepsWholeFacesAndDropsTheirParts()
    {
        static DetectedFace Face(float l, float t, float r, float b, float score) => new(new FaceBox(l, t, r, b), score, null);
        // First pass (input = original pixels): two confident parts of one big face, and a small face elsewhere.
        var first = new[] { Face(240, 120, 560, 460, 0.99f), Face(130, 340, 430, 630, 0.9f), Face(700, 50, 740, 100, 0.95f) };
        Assert.True(LargeFacePass.Needed(first, back: 1, largestAnchor: 256));
        Assert.False(LargeFacePass.Needed([first[2]], back: 1, largestAnchor: 256));
        // Second pass (the big face fits its anchors): the whole face, not its parts.
        var whole = Face(110, 55, 600, 630, 0.995f);
        var merged = LargeFacePass.Merge(first, [whole], back: 1, largestAnchor: 256);
        Assert.Equal([whole.Box, first[2].Box], merged.Select(f => f.Box).OrderBy(b => b.Left));
        // A face over the big one that the second pass finds too is a face of its own (a picture in the picture).
        var inset = Face(200, 250, 480, 560, 0.97f);
        merged = LargeFacePass.Merge([.. first, inset], [whole, inset with { Score = 0.96f }], back: 1, largestAnchor: 256);
        Assert.Equal([whole.Box, inset.Box, first[2].Box], merged.Select(f => f.Box).OrderBy(b => b.Left));
        // A first pass that found the big face whole keeps its own box (finer landmarks), and still loses the parts.
        var found = Face(105, 50, 598, 625, 0.999f);
        merged = LargeFacePass.Merge([found, .. first], [whole], back: 1, largestAnchor: 256);
        Assert.Equal([found.Box, first[2].Box], merged.Select(f => f.Box).OrderBy(b => b.Left));
    }

    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void VerifyWithADetectorComparesTheLargestFaces()
    {
        string model = Path.Combine(TestPaths.NewTempDirectory("verify-det"), "mfn.ffm");
        Assert.Equal(0, CliHarness.Run("model", "import", "--from", Path.Combine(TestPaths.Shared!, "models/mobilefacenet-casia/068.ckpt"), "--arch", "mobilefacenet-casia", "--out", model).Code);
        string a = Lfw("images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"), b = Lfw("images/Aaron_Peirsol/Aaron_Peirsol_0002.jpg"), c = Lfw("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
        double Score(string x, string y)
        {
            var (code, output, error) = CliHarness.Run("verify", "--model", model, "--detector", retina.Model!, x, y, "--json");
            Assert.True(code == 0, error);
            return JsonDocument.Parse(output).RootElement.GetProperty("score").GetDouble();
        }
        Assert.True(Score(a, b) > Score(a, c) + 0.3);

        // A photo without a face does not cost the others their results: they are printed, it keeps its place with
        // nulls and is named on the error stream, and the exit code says a face was missing.
        string dir = Path.GetDirectoryName(model)!, blank = Path.Combine(dir, "blank.png"), pairs = Path.Combine(dir, "pairs.txt");
        ImageEncoder.Save(new RgbImage(200, 200), blank);
        var (code, output, error) = CliHarness.Run("embed", "--model", model, "--detector", retina.Model!, a, blank, "--json");
        Assert.True(code == DetectCommandExitCodes.NoFace, error);
        Assert.Contains($"no face found in '{blank}'", error);
        var entries = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, entries.GetArrayLength());
        Assert.Equal(JsonValueKind.Array, entries[0].GetProperty("embedding").ValueKind);
        Assert.Equal(JsonValueKind.Null, entries[1].GetProperty("embedding").ValueKind);
        File.WriteAllLines(pairs, [$"{a}\t{b}", $"{a}\t{blank}"]);
        (code, output, error) = CliHarness.Run("verify", "--model", model, "--detector", retina.Model!, "--pairs", pairs, "--threshold", "0.3", "--json");
        Assert.True(code == DetectCommandExitCodes.NoFace, error);
        var scored = JsonDocument.Parse(output).RootElement;
        Assert.True(scored[0].GetProperty("same").GetBoolean());
        Assert.Equal(JsonValueKind.Null, scored[1].GetProperty("score").ValueKind);
        Assert.Equal(0, scored[0].GetProperty("no_face").GetArrayLength());
        Assert.Equal(blank, scored[1].GetProperty("no_face")[0].GetString());
        // One pair: the JSON object itself names the faceless image.
        (code, output, error) = CliHarness.Run("verify", "--model", model, "--detector", retina.Model!, blank, a, "--json");
        Assert.True(code == DetectCommandExitCodes.NoFace, error);
        var single = JsonDocument.Parse(output).RootElement;
        Assert.Equal(JsonValueKind.Null, single.GetProperty("score").ValueKind);
        Assert.Equal([blank], single.GetProperty("no_face").EnumerateArray().Select(e => e.GetString()!));

        // Two people side by side: the larger face is used, and the note says there was a choice.
        var left = ImageDecoder.Decode(a);
        var right = ImageResizer.Resize(ImageDecoder.Decode(c), 200, 200);
        var group = new RgbImage(450, 250);
        for (int y = 0; y < 250; y++) left.Pixels.Slice(y * 250 * 3, 250 * 3).CopyTo(group.Pixels.Slice(y * 450 * 3, 250 * 3));
        for (int y = 0; y < 200; y++) right.Pixels.Slice(y * 200 * 3, 200 * 3).CopyTo(group.Pixels.Slice((y * 450 + 250) * 3, 200 * 3));
        string groupPath = Path.Combine(dir, "group.png");
        ImageEncoder.Save(group, groupPath);
        (code, output, error) = CliHarness.Run("verify", "--model", model, "--detector", retina.Model!, groupPath, b, "--json");
        Assert.True(code == 0, error);
        Assert.Contains("holds 2 faces; using the largest", error);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("score").GetDouble() > Score(a, c) + 0.3);

        // The same pipeline through the core's API (the libtorch backend injected), two photos in one call.
        using var owned = new FaceModels(new FaceForge.Training.Runtime.TorchModelBackend()).OpenPipeline(retina.Model!, model);
        var analysed = owned.Pipeline.AnalyseMany([ImageDecoder.Decode(a), ImageDecoder.Decode(b)]);
        Assert.Equal(analysed[0].Count, owned.Pipeline.Analyse(ImageDecoder.Decode(a)).Count);
        Assert.All(analysed, faces => Assert.NotEmpty(faces));
        var first = analysed[0].MaxBy(f => f.Face.Box.Area)!;
        Assert.Equal(1.0, Math.Sqrt(first.Embedding.Sum(v => (double)v * v)), 4);
        Assert.InRange(first.InterOcularPixels, 20, 80);
        Assert.InRange(first.Yaw, -1, 1);
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void ImportRefusesWeightsOfAnotherArchitecture()
    {
        var (code, _, error) = CliHarness.Run("model", "import", "--from", Path.Combine(TestPaths.Shared!, "models/retinaface-mnet025/slim_Final.pth"),
            "--arch", "retinaface-mnet025", "--out", Path.Combine(TestPaths.NewTempDirectory("import-bad"), "x.ffm"));
        Assert.Equal(2, code);
        Assert.Contains("do not fit 'retinaface-mnet025'", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void DetectorAndRecognitionModelsAreNotMistakenForEachOther()
    {
        string image = Lfw("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
        var (code, _, error) = CliHarness.Run("embed", "--model", retina.Model!, image, "--json");
        Assert.Equal(2, code);
        Assert.Contains("not a recognition model", error);
        string notOnnx = Path.Combine(TestPaths.NewTempDirectory("bad-onnx"), "detector.onnx");
        File.WriteAllText(notOnnx, "not a model");
        (code, _, error) = CliHarness.Run("detect", "--model", notOnnx, image);
        Assert.Equal(2, code);
        Assert.Contains("not a loadable ONNX model", error);
    }

    [Fact]
    public void NmsKeepsTheBestOfOverlappingBoxes()
    {
        var boxes = new[] { new FaceBox(0, 0, 10, 10), new FaceBox(1, 1, 11, 11), new FaceBox(20, 20, 30, 30), new FaceBox(0, 0, 10, 10) };
        var scores = new[] { 0.8f, 0.9f, 0.5f, 0.7f };
        Assert.Equal([1, 2], NonMaximumSuppression.Apply(boxes, scores, 0.4f));
        // Inclusive pixel overlap (py_cpu_nms): 10x10 boxes offset by 5 overlap 6x11 / (121 + 121 - 66) = 0.375.
        Assert.Equal(2, NonMaximumSuppression.Apply([new FaceBox(0, 0, 10, 10), new FaceBox(5, 0, 15, 10)], [0.9f, 0.8f], 0.4f).Count);
        Assert.Single(NonMaximumSuppression.Apply([new FaceBox(0, 0, 10, 10), new FaceBox(5, 0, 15, 10)], [0.9f, 0.8f], 0.37f));
    }

    [Fact]
    public void PriorsFollowTheNetworkOutputOrderAndZeroOffsetsDecodeToThem()
    {
        var decoder = RetinaFaceDecoder.MobileNet;
        float[] priors = decoder.Priors(64, 48);
        // Strides 8, 16, 32 over 64x48: 8x6 + 4x3 + 2x2 cells, two anchors each.
        Assert.Equal((48 + 12 + 4) * 2 * 4, priors.Length);
        Assert.Equal([4f / 64, 4f / 48, 10f / 64, 10f / 48], priors[..4]);
        Assert.Equal(20f / 64, priors[6]); // the cell's second anchor
        int n = priors.Length / 4;
        var scores = new float[n];
        scores[1] = 0.9f;
        var faces = decoder.Decode(new float[n * 4], scores, new float[n * 10], priors, 64, 48, 1f, 0.5f);
        var face = Assert.Single(faces);
        Assert.Equal(-6, face.Box.Left, 4);
        Assert.Equal(-6, face.Box.Top, 4);
        Assert.Equal(14, face.Box.Right, 4);
        Assert.Equal(14, face.Box.Bottom, 4);
        Assert.Equal(4, face.Landmarks!.Value.Nose.X, 4);
    }

    [Fact]
    public void AnnotationsAreReadAndBadLinesNamed()
    {
        string dir = TestPaths.NewTempDirectory("labels");
        string path = Path.Combine(dir, "label.txt");
        File.WriteAllText(path, "# a.jpg\n10 20 30 40 15 25 0.0 35 25 0.0 25 35 0.0 18 50 0.0 32 50 0.0 1.0\n5 5 8 8 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 0.5\n# b.jpg\n1 2 3 4\n");
        var entries = FaceAnnotations.Read(path);
        Assert.Equal(["a.jpg", "b.jpg"], entries.Select(e => e.Image));
        Assert.Equal(new FaceBox(10, 20, 40, 60), entries[0].Faces[0].Box);
        Assert.Equal(new System.Numerics.Vector2(25, 35), entries[0].Faces[0].Landmarks!.Value.Nose);
        Assert.Null(entries[0].Faces[1].Landmarks);
        Assert.Null(entries[1].Faces[0].Landmarks);

        File.WriteAllText(path, "# a.jpg\n10 20 x 40\n");
        Assert.Contains("label.txt:2", Assert.Throws<InvalidDataException>(() => FaceAnnotations.Read(path)).Message);
        File.WriteAllText(path, "10 20 30 40\n");
        Assert.Contains("before any '# image'", Assert.Throws<InvalidDataException>(() => FaceAnnotations.Read(path)).Message);
    }

    [Fact]
    public void AveragePrecisionCountsFalsePositivesByRank()
    {
        AnnotatedFace Truth(float x) => new(new FaceBox(x, 0, x + 10, 10), null);
        DetectedFace Found(float x, float score) => new(new FaceBox(x, 0, x + 10, 10), score, null);
        var truth = new List<IReadOnlyList<AnnotatedFace>> { new[] { Truth(0), Truth(50) } };
        Assert.Equal(1.0, DetectionMetrics.Compute(truth, [new[] { Found(0, 0.9f), Found(50, 0.8f) }]).AveragePrecision, 6);
        // A false positive ranked between the two hits: precision 1 at recall 0.5, 2/3 at recall 1.
        var report = DetectionMetrics.Compute(truth, [new[] { Found(0, 0.9f), Found(200, 0.85f), Found(50, 0.8f) }]);
        Assert.Equal(0.5 * 1 + 0.5 * 2.0 / 3, report.AveragePrecision, 6);
        Assert.Equal(1.0, report.Recall);
        // A duplicate of a matched face is a false positive, not a second hit.
        Assert.Equal(0.5, DetectionMetrics.Compute(truth, [new[] { Found(0, 0.9f), Found(0, 0.8f) }]).Recall);
    }

    [Fact]
    public void MaskCandidatesCoverTheirRegionOnly()
    {
        float[] box = [0, 0, 100, 100];
        float[] marks = [30, 40, 70, 40, 50, 60, 35, 80, 65, 80];
        Assert.True(AdversarialMaskGenerator.Hides(5, 20, 50, box, marks, 0));   // left half
        Assert.False(AdversarialMaskGenerator.Hides(5, 80, 50, box, marks, 0));
        Assert.True(AdversarialMaskGenerator.Hides(8, 50, 90, box, marks, 0));   // lower half
        Assert.True(AdversarialMaskGenerator.Hides(0, 32, 42, box, marks, 0));   // around the left eye
        Assert.False(AdversarialMaskGenerator.Hides(0, 70, 40, box, marks, 0));
        Assert.False(AdversarialMaskGenerator.Hides(6, 150, 50, box, marks, 0)); // outside the face
        int hidden = 0;
        for (int x = 0; x < 100; x += 4)
            for (int y = 0; y < 100; y += 4)
                if (AdversarialMaskGenerator.Hides(9, x, y, box, marks, 3)) hidden++;
        Assert.InRange(hidden, 250, 375); // about half of 625 cells
        Assert.Equal(MaskMode.RandomHalf, AdversarialMaskGenerator.ModeOf(10));
    }

    [Fact]
    public void AdversarialDetectorTrainingRunsAndItsModelScoresOcclusion()
    {
        string dir = TestPaths.NewTempDirectory("aofd");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 2, ImagesPerIdentity = 1, Seed = 4, SceneOcclusionRate = 1 }).WriteDetectionScenes(Path.Combine(dir, "scenes"), 6);
        string run = Path.Combine(dir, "run");
        var (code, output, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", run, "--max-steps", "2", "--batch-size", "3", "--json");
        Assert.True(code == 0, error);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("adversarial").GetBoolean());
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.True(JsonDocument.Parse(l).RootElement.GetProperty("masked_loss").GetDouble() > 0));

        (code, output, error) = CliHarness.Run("eval", "detect", "--model", Path.Combine(run, "model.ffm"), "--images", Path.Combine(dir, "scenes"),
            "--annotations", Path.Combine(dir, "scenes", "label.txt"), "--masks", Path.Combine(dir, "scenes", "masks"), "--report", Path.Combine(dir, "report"), "--json");
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(dir, "report", "pr.png")) && File.Exists(Path.Combine(dir, "report", "report.html")));
        var json = JsonDocument.Parse(output).RootElement;
        Assert.InRange(json.GetProperty("ap").GetDouble(), 0, 1);
        Assert.InRange(json.GetProperty("occlusion_iou").GetDouble(), 0, 1);

        // A finished run is kept unless --force.
        (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", run, "--max-steps", "1");
        Assert.Equal(2, code);
        Assert.Contains("--force", error);
    }
}

internal static class DetectCommandExitCodes
{
    public const int NoFace = FaceForge.Cli.Commands.DetectCommand.NoFaceExitCode;
}

public class MultiBoxTargetTests
{
    [Fact]
    public void EveryFaceGetsAnAnchorAndItsEncodedBoxDecodesBack()
    {
        float[] priors = RetinaFaceDecoder.MobileNet.Priors(64, 64);
        var sample = new DetectionSample(new float[3 * 64 * 64], [[10, 12, 30, 36], [40, 40, 44, 45]], [[15, 20, 25, 20, 20, 26, 16, 31, 24, 31], null], null);
        var targets = MultiBoxLoss.Match([sample], priors, 64, 64);
        Assert.Contains(0, targets.Owner[0]);
        Assert.Contains(1, targets.Owner[0]); // the tiny face still takes its best anchor
        int anchor = Array.IndexOf(targets.Owner[0], 0);
        int n = priors.Length / 4;
        var scores = new float[n];
        scores[anchor] = 1;
        var boxes = targets.Boxes.reshape(-1).data<float>().ToArray();
        var marks = targets.Landmarks.reshape(-1).data<float>().ToArray();
        var face = Assert.Single(RetinaFaceDecoder.MobileNet.Decode(boxes, scores, marks, priors, 64, 64, 1f, 0.5f));
        Assert.Equal(10, face.Box.Left, 3);
        Assert.Equal(36, face.Box.Bottom, 3);
        Assert.Equal(26, face.Landmarks!.Value.Nose.Y, 3);
        Assert.True(targets.HasLandmarks[0, anchor].item<bool>());
    }
}
