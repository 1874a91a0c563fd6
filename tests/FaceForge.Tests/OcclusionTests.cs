using System.Numerics;
using System.Text.Json;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Evaluation;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Occlusion;
using FaceForge.Synthesis;
using FaceForge.Training.Detection;
using FaceForge.Training.Weights;
using SkiaSharp;
using TorchSharp;
using Xunit;

namespace FaceForge.Tests;

/// <summary>Real-face occlusion sets (issue 16): occluders painted by landmarks, pseudo-labels, composites.</summary>
public class OcclusionTests(RetinaFaceFixture retina) : IClassFixture<RetinaFaceFixture>
{
    private static readonly FaceLandmarks Frontal = new(new(80, 90), new(120, 90), new(100, 112), new(84, 134), new(116, 134));
    private static readonly FaceBox FaceBox = new(60, 55, 140, 165);

    /// <summary>An RGBA PNG: an opaque rounded band with transparent corners, like a mask picture.</summary>
    internal static string OverlayFile(string dir, bool transparent = true)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(60, 30, SKColorType.Rgba8888, transparent ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        bitmap.Erase(transparent ? SKColors.Transparent : SKColors.White);
        using (var canvas = new SKCanvas(bitmap))
            canvas.DrawRoundRect(new SKRect(4, 2, 56, 28), 10, 10, new SKPaint { Color = new SKColor(40, 120, 200) });
        string path = Path.Combine(dir, transparent ? "band-mask.png" : "opaque.png");
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    [Theory]
    [InlineData(OcclusionKind.Mask)]
    [InlineData(OcclusionKind.Sunglasses)]
    [InlineData(OcclusionKind.Hand)]
    [InlineData(OcclusionKind.Scarf)]
    [InlineData(OcclusionKind.HalfCover)]
    public void OccludersAreDrawnOnTheFaceAndTheMapMarksOnlyHiddenFacePixels(OcclusionKind kind)
    {
        var overlay = MaskOverlay.Load(OverlayFile(TestPaths.NewTempDirectory("overlay")));
        var image = new RgbImage(200, 200);
        image.Pixels.Fill(128);
        var occluded = new bool[200 * 200];
        OccluderPainter.Paint(image, occluded, FaceBox, Frontal, kind, overlay, new Random(3));
        int hidden = occluded.Count(o => o);
        Assert.InRange(hidden, 80, 0.8 * FaceBox.Area);
        for (int p = 0; p < occluded.Length; p++)
        {
            int x = p % 200, y = p / 200;
            if (occluded[p])
            {
                Assert.True(FaceBox.Left <= x + 0.5f && x + 0.5f <= FaceBox.Right && FaceBox.Top <= y + 0.5f && y + 0.5f <= FaceBox.Bottom, $"({x}, {y}) marked outside the face box");
                Assert.False(image.Pixels[3 * p] == 128 && image.Pixels[3 * p + 1] == 128 && image.Pixels[3 * p + 2] == 128, $"({x}, {y}) marked but not painted");
            }
        }
        // Far from the face nothing changes.
        Assert.Equal(128, image.Pixels[3 * (5 * 200 + 5)]);
        Assert.Equal(128, image.Pixels[3 * (195 * 200 + 195)]);
        // Where each kind belongs: a mask or scarf covers the mouth, sunglasses the eyes and not the mouth.
        bool Hidden(Vector2 p) => occluded[(int)p.Y * 200 + (int)p.X];
        var mouth = (Frontal.LeftMouth + Frontal.RightMouth) / 2;
        if (kind is OcclusionKind.Mask or OcclusionKind.Scarf) Assert.True(Hidden(mouth) && !Hidden(Frontal.LeftEye));
        if (kind is OcclusionKind.Sunglasses) Assert.True(Hidden(Frontal.LeftEye) && Hidden(Frontal.RightEye) && !Hidden(mouth));
    }

    [Fact]
    public void OccluderListsAreParsedAndAllStandsAlone()
    {
        Assert.Equal([OcclusionKind.Mask, OcclusionKind.Hand], OcclusionKinds.Parse(" mask, hand ,mask"));
        Assert.Equal(OcclusionKinds.All, OcclusionKinds.Parse("ALL"));
        Assert.Equal(OcclusionKinds.All, OcclusionKinds.Parse("all,"));
        var error = Assert.Throws<ArgumentException>(() => OcclusionKinds.Parse("all,mask"));
        Assert.Contains("'all' already names every occluder", error.Message);
        Assert.Contains("Unknown occluder 'glasses'", Assert.Throws<ArgumentException>(() => OcclusionKinds.Parse("mask,glasses")).Message);
        Assert.Throws<ArgumentException>(() => OcclusionKinds.Parse(" , "));
    }

    [Fact]
    public void MasksFollowATurnedHead()
    {
        var overlay = MaskOverlay.Load(OverlayFile(TestPaths.NewTempDirectory("overlay-turn")));
        // The same face turned 90 degrees: the mask must cover the (now sideways) mouth, not the image's lower half.
        var turned = Frontal.Select(p => new Vector2(200 - p.Y, p.X));
        var box = new FaceBox(200 - FaceBox.Bottom, FaceBox.Left, 200 - FaceBox.Top, FaceBox.Right);
        var image = new RgbImage(200, 200);
        var occluded = new bool[200 * 200];
        OccluderPainter.Paint(image, occluded, box, turned, OcclusionKind.Mask, overlay, new Random(1));
        var mouth = (turned.LeftMouth + turned.RightMouth) / 2;
        Assert.True(occluded[(int)mouth.Y * 200 + (int)mouth.X]);
        Assert.False(occluded[(int)turned.LeftEye.Y * 200 + (int)turned.LeftEye.X]);
    }

    [Fact]
    public void AnOverlayWithoutTransparencyIsRefusedByName()
    {
        string path = OverlayFile(TestPaths.NewTempDirectory("overlay-opaque"), transparent: false);
        var error = Assert.Throws<InvalidDataException>(() => MaskOverlay.Load(path));
        Assert.Contains("opaque.png", error.Message);
        Assert.Contains("alpha", error.Message);
    }

    [Fact]
    public void ATruncatedOverlayIsRefusedByName()
    {
        string dir = TestPaths.NewTempDirectory("overlay-truncated");
        string whole = OverlayFile(dir);
        Assert.InRange(MaskOverlay.Load(whole).Width, 50, 54);
        byte[] bytes = File.ReadAllBytes(whole);
        string cut = Path.Combine(dir, "cut.png");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 2 / 3)]);
        var error = Assert.Throws<InvalidDataException>(() => MaskOverlay.Load(cut));
        Assert.Contains("cut.png", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    /// <summary>A stand-in detector: one face at a fixed place in every image wider than 100 pixels, none in narrower ones.</summary>
    private sealed class FixedDetector : IFaceDetector
    {
        public string Name => "fixed";
        public bool HasLandmarks => true;
        public IReadOnlyList<DetectedFace> Detect(RgbImage image) => image.Width > 100 ? [new DetectedFace(FaceBox, 0.99f, Frontal)] : [];
        public void Dispose() { }
    }

    private static (string Root, List<string> Images) Sources(string name)
    {
        string root = TestPaths.NewTempDirectory(name);
        var images = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            var image = new RgbImage(i == 3 ? 80 : 200, 200);
            for (int p = 0; p < image.Pixels.Length; p++) image.Pixels[p] = (byte)(p * (i + 3) % 251);
            string rel = $"person{i}/person{i}_0001.jpg";
            Directory.CreateDirectory(Path.Combine(root, $"person{i}"));
            ImageEncoder.Save(image, Path.Combine(root, rel));
            images.Add(rel);
        }
        return (root, images);
    }

    [Fact]
    public void SetsArePseudoLabelledSkipFacelessImagesAndRepeatForASeed()
    {
        var (root, sources) = Sources("occ-src");
        using var detector = new FixedDetector();
        var labels = PseudoLabels.Detect(detector, root, sources);
        Assert.Equal(["person3/person3_0001.jpg"], labels.Skipped); // no face found: counted and left out, not guessed
        var overlay = MaskOverlay.Load(OverlayFile(TestPaths.NewTempDirectory("occ-overlay")));
        var options = new OccludedSetOptions { Overlays = [overlay], OcclusionRate = 1, Seed = 5 };
        string single = TestPaths.NewTempDirectory("occ-single");
        var reference = new Dictionary<string, FaceLandmarks> { ["person0/person0_0001.jpg"] = Frontal };
        var report = OccludedSetWriter.Write(labels, root, single, options, reference);
        Assert.Equal((3, 1, 3, 3), (report.Images, report.SkippedNoFace, report.Faces, report.OccludedFaces));
        Assert.True(File.Exists(Path.Combine(single, "person1/person1_0001.jpg")));
        Assert.True(File.Exists(Path.Combine(single, "masks/person1_0001.png")));
        Assert.Single(File.ReadAllLines(Path.Combine(single, "landmarks.txt")));
        Assert.Equal("person3/person3_0001.jpg", File.ReadAllText(Path.Combine(single, "skipped.txt")).Trim());
        Assert.Contains("pseudo-labels", JsonDocument.Parse(File.ReadAllText(Path.Combine(single, "dataset.json"))).RootElement.GetProperty("labels").GetString());
        // The labels are the clean image's, whatever was painted over the face.
        var entries = FaceForge.Data.FaceAnnotations.Read(Path.Combine(single, "label.txt"));
        Assert.All(entries, e => Assert.Equal(FaceBox, e.Faces.Single().Box));

        string a = TestPaths.NewTempDirectory("occ-comp-a"), b = TestPaths.NewTempDirectory("occ-comp-b");
        var composite = options with { Composites = 12, OcclusionRate = 0.5 };
        var first = OccludedSetWriter.Write(labels, root, a, composite);
        OccludedSetWriter.Write(labels, root, b, composite);
        Assert.Equal(File.ReadAllText(Path.Combine(a, "label.txt")), File.ReadAllText(Path.Combine(b, "label.txt")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "masks/000007.png")), File.ReadAllBytes(Path.Combine(b, "masks/000007.png")));
        Assert.Equal(12, first.Images);
        Assert.InRange(first.Faces, 12, 12 * 9);
        foreach (var (image, faces) in FaceForge.Data.FaceAnnotations.Read(Path.Combine(a, "label.txt")))
        {
            var (w, h) = ImageDecoder.Size(Path.Combine(a, image));
            Assert.Equal((320, 240), (w, h));
            // Boxes are clipped to the canvas (to label precision: x, y, w, h are written to 0.01).
            Assert.All(faces, f => Assert.True(f.Box.Left >= 0 && f.Box.Top >= 0 && f.Box.Right <= 320.05f && f.Box.Bottom <= 240.05f && f.Box.Width >= 7.95f, $"{image}: {f.Box}"));
        }
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void RealLfwFacesArePseudoLabelledByTheImportedDetectorAndMasked()
    {
        string lfw = Path.Combine(TestPaths.Shared!, "data/lfw");
        string dir = Path.Combine(TestPaths.NewTempDirectory("occ-lfw"), "set");
        var (code, output, error) = CliHarness.Run("data", "occlude", "--images", Path.Combine(lfw, "images"), "--pairs", Path.Combine(lfw, "pairs.txt"), "--split", "test",
            "--detector", retina.Model!, "--out", dir, "--occluders", "mask", "--overlays", Path.Combine(TestPaths.Shared!, "data/mask-overlays/red-mask.png"),
            "--occlusion-rate", "1", "--landmarks", Path.Combine(lfw, "landmarks.txt"), "--limit", "6", "--seed", "2", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(6, json.GetProperty("images").GetInt32());
        Assert.Equal(json.GetProperty("faces").GetInt32(), json.GetProperty("occluded_faces").GetInt32());
        // The test split takes the images the test folds name, never a training person's.
        var reference = LandmarksFile.Read(Path.Combine(dir, "landmarks.txt"));
        Assert.Equal(6, reference.Count);
        var folds = FaceForge.Evaluation.LfwPairs.Read(Path.Combine(lfw, "pairs.txt")).Where(p => p.Fold >= 5).SelectMany(p => new[] { p.First, p.Second }).ToHashSet();
        Assert.All(reference.Keys, k => Assert.Contains(k, folds));
        // Pseudo-labels are the imported detector's own: its centre face matches landmarks.txt (made by the same weights).
        foreach (var (image, faces) in FaceForge.Data.FaceAnnotations.Read(Path.Combine(dir, "label.txt")))
        {
            var centre = faces.MinBy(f => Vector2.DistanceSquared(f.Box.Centre, new Vector2(125, 125)))!;
            Assert.True(LandmarkMetrics.Nme(centre.Landmarks!.Value, reference[image]) < 0.01, image);
            var mask = ImageDecoder.Decode(OcclusionMaskFile.Find(Path.Combine(dir, "masks"), image));
            var mouth = (reference[image].LeftMouth + reference[image].RightMouth) / 2;
            Assert.Equal(255, mask.Pixels[3 * ((int)mouth.Y * mask.Width + (int)mouth.X)]);
        }
    }

    [Fact]
    public void DetectorTrainingRefusesABoxOutsideItsImage()
    {
        string dir = TestPaths.NewTempDirectory("box-outside");
        ImageEncoder.Save(new RgbImage(64, 48), Path.Combine(dir, "a.png"));
        File.WriteAllText(Path.Combine(dir, "label.txt"), "# a.png\n10 10 20 20\n70 5 10 10\n");
        var (code, _, error) = CliHarness.Run("train-detector", "--data", dir, "--out", Path.Combine(dir, "run"), "--max-steps", "1", "--arch", "retinaface-mnet025");
        Assert.Equal(2, code);
        Assert.Contains("a.png", error);
        Assert.Contains("falls outside", error);
        Assert.False(File.Exists(Path.Combine(dir, "run", "model.ffm")));
    }

    [Fact]
    public void WinnerMarginHoldsTheTeachersBestAnchorOfEachCleanFace()
    {
        // Two images of four anchors. Image 0: anchors 0-2 belong to face 0 (clean), anchor 3 to nothing.
        // Image 1: anchors 0-1 to face 0 (occluded: not clean), anchors 2-3 to face 1 (clean).
        // A clean face with one anchor (face 2 of image 0, anchor 3) has no runner-up: it never counts.
        int[][] owner = [[0, 0, 0, 2], [0, 0, 1, 1]];
        bool[] clean = [true, true, true, true, false, false, true, true];
        using var teacher = torch.tensor(new float[] { 5, 9, 8, 0, 1, 2, 7, 3 }, [2, 4]);
        float Margin(float[] student)
        {
            using var odds = torch.tensor(student, [2, 4]);
            using var loss = DetectorTask.WinnerMargin(odds, teacher, clean, owner);
            return loss.item<float>();
        }
        // The teacher's winners: anchor 1 of image 0, 1 ahead of anchor 2 (the most asked, WinnerMarginLogOdds); anchor 2
        // of image 1, 4 ahead, of which 1 is asked.
        Assert.Equal(1, DetectorTask.WinnerMarginLogOdds);
        // Log-odds of the face class (index 1 of the background/face logits), the scale both terms work on.
        using (var logits = torch.tensor(new float[] { 0.5f, 2f, 3f, -1f }, [1, 2, 2]))
        using (var odds = DetectorTask.LogOdds(logits))
            Assert.Equal([1.5f, -4f], odds.data<float>().ToArray());
        // The teacher itself, and a detector that keeps both leads: nothing to pay.
        Assert.Equal(0, Margin([5, 9, 8, 0, 1, 2, 7, 3]), 5);
        Assert.Equal(0, Margin([0, 10, 9, 50, 50, 50, 7, 6]), 5);
        // Image 0's runner-up overtakes the winner by 2: the hinge pays 1 + 2 for that face, averaged over 2 faces.
        Assert.Equal(1.5f, Margin([0, 10, 12, 0, 0, 0, 7, 6]), 4);
        // Image 1's lead shrinks to 0.25: 0.75 to pay.
        Assert.Equal(0.375f, Margin([0, 10, 9, 0, 0, 0, 6.25f, 6]), 4);
        // A single-anchor face and occluded faces never count, however high they score.
        Assert.Equal(0, Margin([0, 10, 0, 99, 99, 99, 9, 0]), 5);
    }

    [Fact]
    public void BackgroundHoldChargesOnlyBackgroundAnchorsScoredAboveTheTeacher()
    {
        // Image 0: anchors 0-1 matched, 2-3 background. Image 1: anchor 0 matched, 1-3 background. 3 matched anchors.
        bool[] background = [false, false, true, true, false, true, true, true];
        using var teacher = torch.tensor(new float[] { 5, 5, -6, -2, 4, -8, -3, 0 }, [2, 4]);
        float Hold(float[] student)
        {
            using var odds = torch.tensor(student, [2, 4]);
            using var loss = DetectorTask.BackgroundHold(odds, teacher, background, 3);
            return loss.item<float>();
        }
        Assert.Equal(0, Hold([5, 5, -6, -2, 4, -8, -3, 0]), 5);
        // Matched anchors may rise or fall freely; background may fall below the teacher's.
        Assert.Equal(0, Hold([-9, 20, -9, -5, 30, -20, -4, -1]), 5);
        // Background rising above the teacher: 1 + 3 + 0.5 over 3 matched anchors.
        Assert.Equal(4.5f / 3, Hold([5, 5, -5, 1, 4, -8, -2.5f, -1]), 4);
    }

    [Fact]
    public void ScoreHeadFineTuningKeepsBoxesAndLandmarksOfTheInitModel()
    {
        string dir = TestPaths.NewTempDirectory("score-heads");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 2, ImagesPerIdentity = 1, Seed = 4, SceneOcclusionRate = 0 }).WriteDetectionScenes(Path.Combine(dir, "scenes"), 4);
        var info = DetectorCatalog.Defaults(DetectorCatalog.RetinaFace);
        string init = Path.Combine(dir, "init.ffm");
        using (var network = DetectorCatalog.Create(info)) ModelFile.Save(init, info, StateDict.Export(network));
        string run = Path.Combine(dir, "run");
        var (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", run, "--init", init, "--trainable", "score-heads",
            "--teacher-weight", "1", "--max-steps", "2", "--batch-size", "2", "--lr", "0.05", "--json");
        Assert.True(code == 0, error);
        var before = ModelFile.Read(init).Weights;
        var after = ModelFile.Read(Path.Combine(run, "model.ffm")).Weights;
        // The occlusion-aware model adds its segmentation branch; its detector part is the init model's layout.
        var detector = after.Where(kv => kv.Key.StartsWith("detector.", StringComparison.Ordinal)).ToList();
        Assert.Equal(before.Count, detector.Count);
        var changed = detector.Where(kv => !kv.Value.Data.AsSpan().SequenceEqual(before[kv.Key["detector.".Length..]].Data)).Select(kv => kv.Key).ToList();
        Assert.NotEmpty(changed);
        // Only the face/background heads move; body, FPN, SSH (batch norm statistics included), box and landmark heads do not.
        Assert.All(changed, key => Assert.Contains("ClassHead", key));
        var teacherLoss = File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(line => JsonDocument.Parse(line).RootElement)
            .Where(m => m.TryGetProperty("teacher_loss", out _)).Select(m => m.GetProperty("teacher_loss").GetDouble()).ToList();
        Assert.Contains(teacherLoss, value => value > 0);

        // score-box-heads: the box heads move too, the landmark heads and everything under the heads do not (the
        // background hold, on here, changes what the heads learn, not which ones).
        string boxRun = Path.Combine(dir, "box-run");
        (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", boxRun, "--init", init, "--trainable", "score-box-heads",
            "--teacher-weight", "1", "--background-hold-weight", "2", "--max-steps", "2", "--batch-size", "2", "--lr", "0.05", "--json");
        Assert.True(code == 0, error);
        Assert.Contains("\"background_hold_weight\": 2", File.ReadAllText(Path.Combine(boxRun, "config.json")));
        Assert.All(File.ReadLines(Path.Combine(boxRun, "metrics.jsonl")).Select(line => JsonDocument.Parse(line).RootElement).Where(m => m.TryGetProperty("teacher_loss", out _)),
            m => Assert.True(double.IsFinite(m.GetProperty("background_hold_loss").GetDouble())));
        var boxChanged = ModelFile.Read(Path.Combine(boxRun, "model.ffm")).Weights.Where(kv => kv.Key.StartsWith("detector.", StringComparison.Ordinal))
            .Where(kv => !kv.Value.Data.AsSpan().SequenceEqual(before[kv.Key["detector.".Length..]].Data)).Select(kv => kv.Key).ToList();
        Assert.Contains(boxChanged, key => key.Contains("BboxHead"));
        Assert.All(boxChanged, key => Assert.True(key.Contains("ClassHead") || key.Contains("BboxHead"), key));

        (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", Path.Combine(dir, "run2"), "--teacher-weight", "1");
        Assert.Equal(2, code);
        Assert.Contains("teacher_weight", error);
        (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", Path.Combine(dir, "run2"), "--background-hold-weight", "1");
        Assert.Equal(2, code);
        Assert.Contains("background_hold_weight", error);
        (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", Path.Combine(dir, "run2"), "--init", init, "--background-hold-weight", "-1");
        Assert.Equal(2, code);
        Assert.Contains("background_hold_weight", error);
        (code, _, error) = CliHarness.Run("train-detector", "--data", Path.Combine(dir, "scenes"), "--out", Path.Combine(dir, "run2"), "--init", init, "--trainable", "heads");
        Assert.Equal(2, code);
        Assert.Contains("score-box-heads", error);
        // Without occlusion masks the teacher cannot tell clean faces from occluded ones: refused, not guessed.
        string bare = TestPaths.NewTempDirectory("teacher-no-masks");
        ImageEncoder.Save(new RgbImage(64, 48), Path.Combine(bare, "a.png"));
        File.WriteAllText(Path.Combine(bare, "label.txt"), "# a.png\n10 10 20 20\n");
        (code, _, error) = CliHarness.Run("train-detector", "--data", bare, "--out", Path.Combine(bare, "run"), "--init", init, "--teacher-weight", "1", "--arch", "retinaface-mnet025");
        Assert.Equal(2, code);
        Assert.Contains("needs occlusion masks", error);
    }

    [Fact]
    public void OcclusionAugmentationPaintsByTheTemplateRepeatablyAndNeedsItsMasks()
    {
        // A mid-grey 112x96 crop in the SphereFace frame: a mask covers the mouth and leaves the forehead.
        var crop = new RgbImage(96, 112);
        crop.Pixels.Fill(128);
        var overlay = MaskOverlay.Load(OverlayFile(TestPaths.NewTempDirectory("aug-overlay")));
        var masks = new FaceForge.Input.AugmentationOptions { FlipProbability = 0, OcclusionProbability = 1, Occluders = [OcclusionKind.Mask], MaskOverlays = [overlay] };
        var template = AlignmentTemplate.SphereFace112x96;
        var mouth = (template.Points.LeftMouth + template.Points.RightMouth) / 2;
        for (int seed = 0; seed < 5; seed++)
        {
            var a = FaceForge.Input.Augmenter.Apply(crop, masks, new Random(seed), template);
            Assert.True(a.Pixels.SequenceEqual(FaceForge.Input.Augmenter.Apply(crop, masks, new Random(seed), template).Pixels), "one seed, one occluder");
            Assert.NotEqual(128, a.Pixels[((int)mouth.Y * 96 + (int)mouth.X) * 3 + 2]);
            Assert.Equal(128, a.Pixels[(15 * 96 + 48) * 3 + 2]);
            Assert.True(crop.Pixels.ToArray().All(v => v == 128), "the input is not modified");
        }
        // Every kind paints something somewhere over many draws; probability 0 paints nothing.
        var all = masks with { Occluders = OcclusionKinds.All };
        Assert.All(Enumerable.Range(0, 10), seed => Assert.False(FaceForge.Input.Augmenter.Apply(crop, all, new Random(seed), template).Pixels.SequenceEqual(crop.Pixels)));
        Assert.True(FaceForge.Input.Augmenter.Apply(crop, masks with { OcclusionProbability = 0 }, new Random(1), template).Pixels.SequenceEqual(crop.Pixels));
        // Masks without overlays, and a bad kind or missing folder in a training config, are refused by name.
        Assert.Contains("mask overlays", Assert.Throws<ArgumentException>(() => (masks with { MaskOverlays = null }).Validate()).Message);
        (masks with { MaskOverlays = null, Occluders = [OcclusionKind.Hand] }).Validate();
        var config = new FaceForge.Training.Recognition.TrainingConfig { Data = "x", OcclusionProbability = 0.3 };
        Assert.Contains("mask_overlays", Assert.Throws<ArgumentException>(() => config.Validate()).Message);
        Assert.Contains("occluders", Assert.Throws<ArgumentException>(() => (config with { Occluders = "mask,beard", MaskOverlays = "m" }).Validate()).Message);
        Assert.Contains("occlusion_probability", Assert.Throws<ArgumentException>(() => (config with { OcclusionProbability = 1.5 }).Validate()).Message);
        (config with { Occluders = "hand,scarf" }).Validate();
        Assert.Contains("occluders", Assert.Throws<ArgumentException>(() => (config with { Occluders = null! }).Validate()).Message);
        var ignored = new FaceForge.Training.Recognition.TrainingConfig { Data = "x", MaskOverlays = "m" };
        Assert.Contains("mask_overlays", Assert.Throws<ArgumentException>(() => ignored.RequireNoIgnoredSettings()).Message);
        Assert.Contains("occluders", Assert.Throws<ArgumentException>(() => (ignored with { MaskOverlays = null, Occluders = "hand" }).RequireNoIgnoredSettings()).Message);
        (ignored with { OcclusionProbability = 0.2 }).RequireNoIgnoredSettings();
    }

    [Fact]
    public void TheOccludeCommandNamesBadOverlaysAndHoldOuts()
    {
        var (root, _) = Sources("occ-cli");
        string overlays = TestPaths.NewTempDirectory("occ-cli-overlays");
        OverlayFile(overlays, transparent: false);
        string model = Path.Combine(TestPaths.NewTempDirectory("occ-cli-model"), "none.ffm");
        var (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", model, "--out", Path.Combine(root, "..", "occ-cli-out"), "--overlays", overlays);
        Assert.Equal(2, code);
        Assert.Contains("opaque.png", error);
        (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", model, "--out", Path.Combine(root, "..", "occ-cli-out"), "--overlays", overlays, "--hold-out", "red-mask");
        Assert.Equal(2, code);
        Assert.Contains("red-mask", error);
        // The output may be neither the image root, nor above it (--force would delete the sources), nor inside it.
        foreach (string bad in new[] { root, Path.Combine(root, ".."), Path.Combine(root, "person0", "out") })
        {
            (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", model, "--out", bad, "--occluders", "sunglasses", "--force");
            Assert.Equal(2, code);
            Assert.Contains("image root", error);
        }
        Assert.True(File.Exists(Path.Combine(root, "person0/person0_0001.jpg")));
        // --force empties --out only after every input has been read: a bad detector leaves it as it was, and an
        // input kept inside --out is refused.
        string kept = Path.Combine(root, "..", "occ-cli-kept");
        Directory.CreateDirectory(kept);
        File.WriteAllText(Path.Combine(kept, "keep.txt"), "x");
        (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", model, "--out", kept, "--occluders", "sunglasses", "--force");
        Assert.Equal(2, code);
        Assert.True(File.Exists(Path.Combine(kept, "keep.txt")), error);
        (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", Path.Combine(kept, "keep.txt"), "--out", kept, "--occluders", "sunglasses", "--force");
        Assert.Equal(2, code);
        Assert.Contains("inside --out", error);
        Assert.True(File.Exists(Path.Combine(kept, "keep.txt")));
        (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", model, "--out", Path.Combine(root, "..", "occ-cli-out"), "--occluders", "sunglasses",
            "--composites", "4", "--landmarks", Path.Combine(root, "none.txt"));
        Assert.Equal(2, code);
        Assert.Contains("--composites", error);
        (code, _, error) = CliHarness.Run("data", "occlude", "--images", root, "--detector", model, "--out", Path.Combine(root, "..", "occ-cli-out"), "--occluders", "glasses");
        Assert.Equal(2, code);
        Assert.Contains("Unknown occluder 'glasses'", error);
    }
}
