using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Gallery;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Pipeline;
using Xunit;

namespace FaceForge.Tests;

/// <summary>The core's public API as an application calls it: misuse gets a clear exception, nothing written is lost.</summary>
public class LibraryApiTests
{
    private static GalleryModel Model(int dim) => new("f00d", "test", dim, "arcface-112x112", "/models/test.ffm", null);

    private sealed class FixedDetector(IReadOnlyList<DetectedFace> faces) : IFaceDetector
    {
        public string Name => "fixed";

        public bool HasLandmarks => true;

        public IReadOnlyList<DetectedFace> Detect(RgbImage image) => faces;

        public void Dispose() { }
    }

    /// <summary>Embeds every crop as its mean grey level in the first dimension (and one in the second), counting the flip modes asked for.</summary>
    private sealed class GreyEmbedder(double? threshold = null, string? thresholdFlip = null) : IFaceEmbedder
    {
        public List<FlipMode> Flips { get; } = [];

        public ModelInfo Info { get; } = new() { Architecture = "grey", InputWidth = 112, InputHeight = 112, Template = "arcface-112x112", EmbeddingSize = 2, Threshold = threshold, ThresholdFlip = thresholdFlip };

        public FaceEmbedding[] EmbedFaces(IReadOnlyList<RgbImage> crops, FlipMode flip)
        {
            Flips.Add(flip);
            return crops.Select(c => FaceEmbedding.Create([(float)c.Pixels.ToArray().Average(b => b) + 1, 1], 1, null, QualityKind.None)).ToArray();
        }

        public void Dispose() { }
    }

    private static FaceLandmarks Marks(float x, float y, float eyes) =>
        new(new Vector2(x, y), new Vector2(x + eyes, y), new Vector2(x + eyes / 2, y + eyes / 2), new Vector2(x + eyes / 10, y + eyes), new Vector2(x + eyes * 0.9f, y + eyes));

    /// <summary>
    /// The template's points mirrored left to right (labels kept), then moved the least that makes the best similarity
    /// to the template exactly zero: points a mirrored or collapsed detection gives, which no alignment fits.
    /// </summary>
    private static FaceLandmarks ZeroScaleMirror()
    {
        var t = AlignmentTemplate.ArcFace112.Points.ToArray();
        var mean = t.Aggregate(Vector2.Zero, (sum, q) => sum + q) / t.Length;
        System.Numerics.Complex Centred(Vector2 v) => new(v.X - mean.X, v.Y - mean.Y);
        var p = t.Select(q => new Vector2(2 * mean.X - q.X, q.Y)).ToArray();
        System.Numerics.Complex c = 0;
        double norm = 0;
        for (int i = 0; i < 5; i++)
        {
            c += System.Numerics.Complex.Conjugate(new System.Numerics.Complex(p[i].X, p[i].Y)) * Centred(t[i]);
            norm += Centred(t[i]).Magnitude * Centred(t[i]).Magnitude;
        }
        var k = -c / norm;
        for (int i = 0; i < 5; i++)
        {
            var e = System.Numerics.Complex.Conjugate(k) * Centred(t[i]);
            p[i] += new Vector2((float)e.Real, (float)e.Imaginary);
        }
        return new FaceLandmarks(p[0], p[1], p[2], p[3], p[4]);
    }

    [Fact]
    public void ReplacingAGalleryWithAnUnreadableModelLeavesTheOldOne()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("api-create"), "faces.gallery");
        using (var gallery = FaceGallery.Create(path, Model(8)))
            gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(1, 0, 8))]);
        var before = File.ReadAllBytes(path);
        foreach (var bad in new[] { Model(8) with { Architecture = null! }, Model(8) with { ModelPath = "" }, Model(8) with { Fingerprint = " " }, Model(0) })
        {
            var error = Assert.Throws<ArgumentException>(() => FaceGallery.Create(path, bad, overwrite: true));
            Assert.Contains("nothing was written", error.Message);
        }
        Assert.Equal(before, File.ReadAllBytes(path));
        using var reopened = FaceGallery.Open(path);
        Assert.Equal("ada", reopened.Identify(SyntheticEmbeddings.Vector(1, 0, 8), 1).Best!.Subject);
        // A missing folder is named as such, not by the temporary file the creation writes first.
        string missing = Path.Combine(Path.GetDirectoryName(path)!, "no-such-folder", "x.gallery");
        Assert.Contains("no-such-folder does not exist", Assert.Throws<DirectoryNotFoundException>(() => FaceGallery.Create(missing, Model(8))).Message);
    }

    [Fact]
    public void GalleryArgumentsAreCheckedAtTheCall()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("api-args"), "faces.gallery");
        Assert.Contains("connectivity", Assert.Throws<ArgumentException>(() => FaceGallery.Create(path, Model(4), open: new GalleryOpenOptions { HnswConnectivity = -1 })).Message);
        Assert.False(File.Exists(path));
        using var gallery = FaceGallery.Create(path, Model(4));
        gallery.Enroll([new GalleryFace("tiny", [1e-30f, 1e-30f, 0, 0]), new GalleryFace("huge", [0, 0, 3e38f, 3e38f])]);
        Assert.Equal("tiny", gallery.Identify([1, 1, 0, 0], 1).Best!.Subject);
        Assert.Equal("huge", gallery.Identify([0, 0, 1e-30f, 1e-30f], 1).Best!.Subject);
        Assert.Equal(1, gallery.Identify([0, 0, 1, 1], 1).Best!.Score, 5);
        Assert.Equal(2, gallery.Identify([1, 0, 1, 0], int.MaxValue).Matches.Count);
        Assert.Contains("zero", Assert.Throws<ArgumentException>(() => gallery.Enroll([new GalleryFace("z", new float[4])])).Message);
        Assert.Contains("not finite", Assert.Throws<ArgumentException>(() => gallery.Identify([float.NaN, 0, 0, 0], 1)).Message);
        Assert.Throws<ArgumentNullException>(() => gallery.Identify(null!, 1));
        Assert.Throws<ArgumentNullException>(() => gallery.Remove(null!));
        Assert.Throws<ArgumentNullException>(() => gallery.Enroll(null!));
        Assert.Throws<ArgumentException>(() => gallery.Enroll([new GalleryFace("v", null!)]));
        // One probe cannot measure an FPIR of 0.01: refused, the threshold left as it was.
        var error = Assert.Throws<ArgumentException>(() => gallery.Calibrate([[0, 1, 0, 0]], 0.01));
        Assert.Contains("at least 100", error.Message);
        Assert.Null(gallery.Threshold);
    }

    [Fact]
    public void DetectionsNoFaceCouldHaveAreLeftOutNotFatal()
    {
        var image = new RgbImage(160, 120);
        var good = new DetectedFace(new FaceBox(40, 20, 120, 110), 0.9f, Marks(60, 50, 35));
        var farOut = new DetectedFace(new FaceBox(0, 0, 10, 10), 0.03f, Marks(5000, 50, 35));
        var pinched = new DetectedFace(new FaceBox(0, 0, 10, 10), 0.02f, Marks(10, 10, 0.2f));
        var mirrored = new DetectedFace(new FaceBox(40, 20, 120, 110), 0.04f, ZeroScaleMirror());
        Assert.Null(FaceAligner.Problem(mirrored.Landmarks!.Value, 160, 120)); // passes the image test, fails the fit
        Assert.NotNull(FaceAligner.Problem(mirrored.Landmarks!.Value, 160, 120, AlignmentTemplate.ArcFace112));
        var pipeline = new FacePipeline(new FixedDetector([good, farOut, pinched, mirrored]), new GreyEmbedder());
        var faces = pipeline.AnalyseMany([image, image]);
        Assert.All(faces, found => Assert.Equal([good], found.Select(f => f.Face)));
        Assert.Same(good, pipeline.Largest(image)!.Face);
        Assert.Throws<ArgumentNullException>(() => pipeline.Analyse(null!));
        Assert.Throws<ArgumentNullException>(() => new FacePipeline(null!, new GreyEmbedder()));
    }

    [Fact]
    public void VerifyEmbedsWithTheFlipModeTheModelsThresholdWasMeasuredWith()
    {
        var image = new RgbImage(160, 120);
        var face = new DetectedFace(new FaceBox(40, 20, 120, 110), 0.9f, Marks(60, 50, 35));
        var calibrated = new GreyEmbedder(threshold: 0.5, thresholdFlip: "Concatenate");
        Assert.True(new FacePipeline(new FixedDetector([face]), calibrated).Verify(image, image)!.Same);
        Assert.Equal([FlipMode.Concatenate, FlipMode.Concatenate], calibrated.Flips);
        // A threshold given by the caller is the caller's: the pipeline's own flip mode.
        calibrated.Flips.Clear();
        new FacePipeline(new FixedDetector([face]), calibrated).Verify(image, image, threshold: 0.9);
        Assert.Equal([FlipMode.Add, FlipMode.Add], calibrated.Flips);
    }

    [Fact]
    public void ImagesTooLargeForAnArrayAreRefusedByTheirSize()
    {
        Assert.Contains("50000x50000", Assert.Throws<ArgumentException>(() => new RgbImage(50000, 50000)).Message);
        Assert.Throws<ArgumentNullException>(() => ImageDecoder.Decode((Stream)null!));
    }
}
