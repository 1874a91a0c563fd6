using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Imaging;
using Xunit;

namespace FaceForge.Tests;

public class AlignmentTests
{
    [Fact]
    public void TemplateAlignsToItself()
    {
        var t = SimilarityTransform.Estimate(AlignmentTemplate.ArcFace112.Points, AlignmentTemplate.ArcFace112);
        Assert.Equal(1, t.A, 5);
        Assert.Equal(0, t.B, 5);
        Assert.Equal(0, t.Tx, 3);
        Assert.Equal(0, t.Ty, 3);
    }

    [Fact]
    public void EstimateRecoversAKnownSimilarity()
    {
        var truth = new SimilarityTransform(1.3f * MathF.Cos(0.4f), 1.3f * MathF.Sin(0.4f), 12, -7);
        var from = AlignmentTemplate.ArcFace112.Points.ToArray();
        var to = from.Select(truth.Apply).ToArray();
        var estimate = SimilarityTransform.Estimate(from, to);
        Assert.Equal(truth.A, estimate.A, 4);
        Assert.Equal(truth.B, estimate.B, 4);
        Assert.Equal(truth.Tx, estimate.Tx, 3);
        Assert.Equal(truth.Ty, estimate.Ty, 3);
        var back = estimate.Inverse().Apply(estimate.Apply(new Vector2(3, 4)));
        Assert.Equal(3, back.X, 3);
        Assert.Equal(4, back.Y, 3);
    }

    [Fact]
    public void SphereFaceTemplateIsArcFaceShifted()
    {
        Assert.Equal((96, 112), (AlignmentTemplate.SphereFace112x96.Width, AlignmentTemplate.SphereFace112x96.Height));
        Assert.Equal(AlignmentTemplate.ArcFace112.Points.Nose.X - 8, AlignmentTemplate.SphereFace112x96.Points.Nose.X, 4);
    }

    [Fact]
    public void AlignUndoesAKnownWarp()
    {
        // Draw a pattern, move it by a similarity into a bigger image, then align it back with the moved landmarks.
        var crop = new RgbImage(112, 112);
        var p = crop.Pixels;
        for (int y = 0; y < 112; y++) for (int x = 0; x < 112; x++) { int o = (y * 112 + x) * 3; p[o] = (byte)(x * 2); p[o + 1] = (byte)(y * 2); p[o + 2] = 100; }
        var move = new SimilarityTransform(1.5f * MathF.Cos(0.2f), 1.5f * MathF.Sin(0.2f), 40, 20);
        var big = new RgbImage(250, 250);
        FaceAligner.Warp(crop, move, big.Pixels, 250, 250);
        var landmarks = AlignmentTemplate.ArcFace112.Points.Select(move.Apply);
        var aligned = FaceAligner.Align(big, landmarks, AlignmentTemplate.ArcFace112);
        double error = 0; int n = 0;
        for (int y = 10; y < 102; y++) for (int x = 10; x < 102; x++) for (int c = 0; c < 3; c++) { error += Math.Abs(aligned.Pixels[(y * 112 + x) * 3 + c] - p[(y * 112 + x) * 3 + c]); n++; }
        // Two bilinear resamplings of a linear ramp: a fraction of a grey level on average.
        Assert.True(error / n < 1.0, $"mean abs error {error / n}");
    }

    [Fact]
    public void LandmarksNoSimilarityFitsAreRefusedNotCroppedToNothing()
    {
        // Points whose centred coordinates are orthogonal to the template's and to the template's turned a quarter:
        // the least-squares similarity onto the template has scale 0. (The template mirrored, minus those parts.)
        var d = AlignmentTemplate.ArcFace112.Points.ToArray();
        var mean = d.Aggregate(Vector2.Zero, (a, p) => a + p) / 5;
        var u = d.Select(p => p - mean).ToArray();
        var v = u.Select(p => new Vector2(-p.Y, p.X)).ToArray();
        var w = u.Select(p => new Vector2(-p.X, p.Y)).ToArray();
        float Dot(Vector2[] a, Vector2[] b) => a.Zip(b).Sum(z => Vector2.Dot(z.First, z.Second));
        float cu = Dot(w, u) / Dot(u, u), cv = Dot(w, v) / Dot(v, v);
        var points = w.Select((p, i) => 3 * (p - cu * u[i] - cv * v[i]) + new Vector2(100, 100)).ToArray();
        var landmarks = new FaceLandmarks(points[0], points[1], points[2], points[3], points[4]);
        Assert.True(Vector2.Distance(landmarks.LeftEye, landmarks.RightEye) >= 1);
        Assert.True(SimilarityTransform.Estimate(landmarks, AlignmentTemplate.ArcFace112).Scale < 1e-4f);
        var error = Assert.Throws<ArgumentException>(() => FaceAligner.Align(new RgbImage(200, 200), landmarks, AlignmentTemplate.ArcFace112));
        Assert.Contains("not arranged as a face", error.Message);
    }

    [Fact]
    public void ShrinkingByThreeAveragesFineDetailInsteadOfAliasingIt()
    {
        // A one-pixel black and white checkerboard shrunk three times (a face with 105 pixels between the eyes): a
        // plain bilinear sample lands on single pixels and keeps black and white; averaging the footprint gives grey.
        var photo = new RgbImage(400, 400);
        for (int y = 0; y < 400; y++) for (int x = 0; x < 400; x++) photo.Pixels.Slice((y * 400 + x) * 3, 3).Fill((byte)((x + y) % 2 * 255));
        var crop = new byte[112 * 112 * 3];
        FaceAligner.Warp(photo, new SimilarityTransform(1 / 3f, 0, -10, -10), crop, 112, 112);
        // 3 x 3 samples of a checkerboard hold 4 or 5 white ones: 113 or 142, never near 0 or 255.
        Assert.All(crop, v => Assert.InRange(v, 100, 155));
        Assert.Equal(3, FaceAligner.Supersampling(3f));
        Assert.Equal(1, FaceAligner.Supersampling(1.99f));
        Assert.Equal(FaceAligner.MaxSupersampling, FaceAligner.Supersampling(1000f));
    }

    [Fact]
    public void BelowAShrinkOfTwoTheWarpIsOneBilinearSamplePerPixel()
    {
        // LFW's photos (42 pixels between the eyes, 35 in the templates) keep InsightFace's crops sample for sample.
        var photo = new RgbImage(250, 250);
        new Random(5).NextBytes(photo.Pixels);
        var move = new SimilarityTransform(0.55f * MathF.Cos(0.1f), 0.55f * MathF.Sin(0.1f), -20, -15);
        var crop = new byte[112 * 96 * 3];
        FaceAligner.Warp(photo, move, crop, 96, 112);
        var back = move.Inverse();
        for (int y = 0; y < 112; y += 7)
            for (int x = 0; x < 96; x += 5)
            {
                float sx = back.A * x - back.B * y + back.Tx, sy = back.B * x + back.A * y + back.Ty;
                int x0 = (int)MathF.Floor(sx), y0 = (int)MathF.Floor(sy);
                float fx = sx - x0, fy = sy - y0;
                for (int c = 0; c < 3; c++)
                {
                    float At(int px, int py) => (uint)px < 250 && (uint)py < 250 ? photo.Pixels[(py * 250 + px) * 3 + c] : 0;
                    float v = (1 - fx) * (1 - fy) * At(x0, y0) + fx * (1 - fy) * At(x0 + 1, y0) + (1 - fx) * fy * At(x0, y0 + 1) + fx * fy * At(x0 + 1, y0 + 1);
                    Assert.Equal(Math.Clamp((int)(v + 0.5f), 0, 255), crop[(y * 96 + x) * 3 + c]);
                }
            }
    }

    [Fact]
    public void AveragingTheFootprintKeepsASmoothFaceWhereItWas()
    {
        // A linear ramp shrunk four times: the average of the footprint is the ramp's value at its centre, so the
        // crop is the plain bilinear one to within rounding (no shift of half a footprint).
        var photo = new RgbImage(600, 600);
        for (int y = 0; y < 600; y++) for (int x = 0; x < 600; x++) { int o = (y * 600 + x) * 3; photo.Pixels[o] = (byte)(x * 0.4); photo.Pixels[o + 1] = (byte)(y * 0.4); photo.Pixels[o + 2] = 90; }
        var move = new SimilarityTransform(0.25f, 0, 4, 6);
        var crop = new byte[112 * 112 * 3];
        FaceAligner.Warp(photo, move, crop, 112, 112);
        var back = move.Inverse();
        for (int y = 0; y < 112; y += 3)
            for (int x = 0; x < 112; x += 3)
            {
                var centre = back.Apply(new Vector2(x, y));
                if (centre.X < 4 || centre.Y < 4 || centre.X > 595 || centre.Y > 595) continue;
                int o = (y * 112 + x) * 3;
                Assert.InRange(crop[o], (int)(centre.X * 0.4) - 2, (int)(centre.X * 0.4) + 2);
                Assert.InRange(crop[o + 1], (int)(centre.Y * 0.4) - 2, (int)(centre.Y * 0.4) + 2);
                Assert.Equal(90, crop[o + 2]);
            }
    }

    [Fact]
    public void ArcFaceCropReframedForSphereFaceEqualsDirectSphereFaceAlignment()
    {
        // A photo of random pixels and a face's landmarks in it: aligning to ArcFace 112x112 and reframing for a
        // 112x96 model must give the crop a direct SphereFace alignment gives (8 columns cut each side), not a squash.
        var photo = new RgbImage(250, 250);
        new Random(3).NextBytes(photo.Pixels);
        var landmarks = new FaceLandmarks(new(100.3f, 111.2f), new(146.8f, 112.5f), new(121.1f, 138.9f), new(103.4f, 160.2f), new(143.7f, 161.0f));
        var arcface = FaceAligner.Align(photo, landmarks, AlignmentTemplate.ArcFace112);
        var direct = FaceAligner.Align(photo, landmarks, AlignmentTemplate.SphereFace112x96);
        var reframed = FaceAligner.Reframe(arcface, AlignmentTemplate.SphereFace112x96);
        Assert.Equal((96, 112), (reframed.Width, reframed.Height));
        for (int y = 0; y < 112; y++)
            for (int x = 0; x < 96; x++)
                for (int c = 0; c < 3; c++)
                    Assert.Equal(arcface.Pixels[(y * 112 + x + 8) * 3 + c], reframed.Pixels[(y * 96 + x) * 3 + c]);
        // The two transforms differ in the float rounding of their offsets: a grey level at the most, rarely.
        int differing = 0, largest = 0;
        for (int i = 0; i < direct.Pixels.Length; i++)
        {
            int d = Math.Abs(direct.Pixels[i] - reframed.Pixels[i]);
            if (d > 0) differing++;
            largest = Math.Max(largest, d);
        }
        Assert.True(largest <= 1 && differing < direct.Pixels.Length / 1000, $"{differing} values differ from the direct alignment, by up to {largest}");
    }

    [Fact]
    public void SphereFaceCropReframedForArcFaceGainsBlackColumns()
    {
        var crop = new RgbImage(96, 112);
        new Random(4).NextBytes(crop.Pixels);
        var reframed = FaceAligner.Reframe(crop, AlignmentTemplate.ArcFace112);
        Assert.Equal((112, 112), (reframed.Width, reframed.Height));
        for (int y = 0; y < 112; y++)
            for (int x = 0; x < 112; x++)
                for (int c = 0; c < 3; c++)
                {
                    byte expected = x is >= 8 and < 104 ? crop.Pixels[(y * 96 + x - 8) * 3 + c] : (byte)0;
                    Assert.Equal(expected, reframed.Pixels[(y * 112 + x) * 3 + c]);
                }
    }

    [Fact]
    public void CropsOfTheTemplatesProportionsOrOfNoKnownTemplateAreResizedWhole()
    {
        var same = new RgbImage(224, 224);
        new Random(5).NextBytes(same.Pixels);
        Assert.Equal(ImageResizer.Resize(same, 112, 112).Pixels.ToArray(), FaceAligner.Reframe(same, AlignmentTemplate.ArcFace112).Pixels.ToArray());
        var other = new RgbImage(150, 100);
        new Random(6).NextBytes(other.Pixels);
        Assert.Equal(ImageResizer.Resize(other, 96, 112).Pixels.ToArray(), FaceAligner.Reframe(other, AlignmentTemplate.SphereFace112x96).Pixels.ToArray());
        var exact = new RgbImage(96, 112);
        Assert.Same(exact, FaceAligner.Reframe(exact, AlignmentTemplate.SphereFace112x96));
    }

    [Fact]
    public void FlippedLandmarksSwapSides()
    {
        var l = AlignmentTemplate.ArcFace112.Points.FlipHorizontal(112);
        Assert.Equal(111 - 73.5318f, l.LeftEye.X, 3);
        Assert.Equal(111 - 38.2946f, l.RightEye.X, 3);
    }

    [Fact]
    public void LandmarksFileReadsLines()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("lm"), "landmarks.txt");
        File.WriteAllText(path, "A/A_0001.jpg\t1 2 3 4 5 6 7 8 9 10\n\n# comment\nB/B_0001.jpg 10 20 30 40 50 60 70 80 90 100\n");
        var map = LandmarksFile.Read(path);
        Assert.Equal(2, map.Count);
        Assert.Equal(new Vector2(9, 10), map["A/A_0001.jpg"].RightMouth);
    }

    [Fact]
    public void LandmarksLineWithNineNumbersNamesFileAndLine()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("lm"), "landmarks.txt");
        File.WriteAllText(path, "A/A_0001.jpg 1 2 3 4 5 6 7 8 9 10\nB/B_0001.jpg 1 2 3 4 5 6 7 8 9\n");
        var e = Assert.Throws<InvalidDataException>(() => LandmarksFile.Read(path));
        Assert.Contains("landmarks.txt:2", e.Message);
        Assert.Contains("9 numbers", e.Message);
    }

    [SharedFact("data/lfw/landmarks.txt")]
    public void SharedLfwLandmarksAlignToTheTemplateGeometry()
    {
        TestPaths.SharedOrSkipMessage("data/lfw/landmarks.txt", out var path);
        var map = LandmarksFile.Read(path!);
        Assert.Equal(13233, map.Count);
        var image = ImageDecoder.Decode(Path.Combine(Path.GetDirectoryName(path)!, "images", "AJ_Cook/AJ_Cook_0001.jpg"));
        var transform = SimilarityTransform.Estimate(map["AJ_Cook/AJ_Cook_0001.jpg"], AlignmentTemplate.SphereFace112x96);
        var aligned = FaceAligner.Align(image, map["AJ_Cook/AJ_Cook_0001.jpg"], AlignmentTemplate.SphereFace112x96);
        Assert.Equal((96, 112), (aligned.Width, aligned.Height));
        // After alignment the eyes land within a couple of pixels of the template (a real face is not the template).
        var eye = transform.Apply(map["AJ_Cook/AJ_Cook_0001.jpg"].LeftEye);
        Assert.InRange(Vector2.Distance(eye, AlignmentTemplate.SphereFace112x96.Points.LeftEye), 0, 3);
    }
}
