using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Evaluation;
using FaceForge.Imaging;
using FaceForge.Models;
using Xunit;

namespace FaceForge.Tests;

/// <summary>The evaluation protocols on hand-made embeddings and detections whose right answers are known.</summary>
public class ProtocolTests
{
    /// <summary>Embeds a crop as the vector its first pixel indexes (ignores the flip), and counts the crops it saw.</summary>
    private sealed class TableEmbedder(IReadOnlyList<float[]> table) : IFaceEmbedder
    {
        public int Embedded { get; private set; }

        public ModelInfo Info { get; } = new() { Architecture = "table", InputWidth = 2, InputHeight = 2, Template = "arcface-112x112", EmbeddingSize = table[0].Length };

        public FaceEmbedding[] EmbedFaces(IReadOnlyList<RgbImage> crops, FlipMode flip)
        {
            Embedded += crops.Count;
            return crops.Select(c => FaceEmbedding.Create((float[])table[c.Pixels[0]].Clone(), 1, null, QualityKind.None)).ToArray();
        }

        public void Dispose() { }
    }

    private static RgbImage Crop(int index)
    {
        var image = new RgbImage(2, 2);
        image.Pixels[0] = (byte)index;
        return image;
    }

    private static float[] Unit(params float[] v)
    {
        Similarity.Normalize(v);
        return v;
    }

    [Fact]
    public void IdentificationGivesTheKnownRanksAndOpenSetRates()
    {
        float Rest(float s) => MathF.Sqrt(1 - s * s);
        var table = new List<float[]>
        {
            Unit(1, 0, 0, 0), Unit(1, 0, 0, 0), Unit(0, 1, 0, 0), Unit(0, 0, 1, 0), // gallery: A twice, B, C
            Unit(1, 0, 0, 0),                   // probe of A: rank 1, score 1
            Unit(0.8f, 0.6f, 0, 0),             // probe of B: A scores 0.8 > B's 0.6, so rank 2
            Unit(0, 0, 0.8f, 0.6f),             // probe of C: rank 1, score 0.8
            Unit(0, 1, 0, 0),                   // probe of B: rank 1, score 1
        };
        float[] unknownTops = [0.95f, 0.9f, 0.85f, 0.7f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.05f];
        table.AddRange(unknownTops.Select(s => new[] { s, 0, 0, Rest(s) }));
        var gallery = new[] { ("0", "A"), ("1", "A"), ("2", "B"), ("3", "C") };
        var probes = new[] { ("4", "A"), ("5", "B"), ("6", "C"), ("7", "B") }.Concat(unknownTops.Select((_, i) => ((8 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), $"U{i}"))).ToArray();
        var protocol = new IdentificationProtocol(gallery, probes, new IdentificationOptions { Fpirs = [0.01, 0.1, 0.3] });
        var embedder = new TableEmbedder(table);
        var report = protocol.Run(embedder, key => Crop(int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(18, embedder.Embedded);
        Assert.Equal(3, report.Identities);
        Assert.Equal(4, report.Probes);
        Assert.Equal(10, report.UnknownProbes);
        Assert.Equal(0.75, report.Rank1, 12);
        Assert.Equal(1.0, report.Rank5, 12);
        // FPIR 0.1 of 10 unknown probes allows one above the threshold: the threshold is the second-highest unknown
        // score, 0.9, which only the two probes scoring 1 pass. FPIR 0.3: threshold 0.7, the probe of C (0.8) passes too.
        Assert.Equal(0.5, report.DirAtFpir["0.1"]!.Value, 12);
        Assert.Equal(0.75, report.DirAtFpir["0.3"]!.Value, 12);
        Assert.Null(report.DirAtFpir["0.01"]);
        Assert.NotNull(report.OpenSetNote);
        Assert.Equal((0.1, 0.5), (report.Curve[0].Fpir, report.Curve[0].Dir));
        Assert.Equal(1.0, report.Curve[^1].Fpir, 12);
        Assert.Equal(0.75, report.Curve[^1].Dir, 12);
    }

    [Fact]
    public void IdentificationWithoutMatedProbesIsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => IdentificationProtocol.Score(["A"], [Unit(1, 0)], ["B"], [Unit(0, 1)]));
        Assert.Contains("No probe", e.Message);
    }

    [Fact]
    public void VerificationJudgesEachFoldAtTheOtherFoldsThreshold()
    {
        float[] At(double cosine) => [(float)cosine, (float)Math.Sqrt(1 - cosine * cosine)];
        // Image 0 is the anchor (1, 0); image k > 0 scores table[k][0] against it.
        var table = new List<float[]> { new[] { 1f, 0f }, At(0.9), At(0.9), At(0.1), At(0.1), At(0.9), At(0.05), At(0.1), At(0.1) };
        var pairs = new List<VerificationPair>();
        bool[] same = [true, true, false, false, true, true, false, false];
        for (int k = 1; k <= 8; k++) pairs.Add(new VerificationPair("0", k.ToString(System.Globalization.CultureInfo.InvariantCulture), same[k - 1], k <= 4 ? 1 : 2));
        var protocol = new VerificationProtocol(pairs);
        var embedder = new TableEmbedder(table);
        var outcome = protocol.Run(embedder, key => Crop(int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(9, embedder.Embedded); // the anchor once, though eight pairs name it
        // Fold 1 is separable (threshold 0.5 from fold 2 gives 4/4); fold 2's same pair at 0.05 fails at fold 1's 0.5: 3/4.
        Assert.Equal([1.0, 0.75], outcome.Report.FoldAccuracies);
        Assert.Equal(0.875, outcome.Report.AccuracyMean, 12);
        Assert.Equal(0.125, outcome.Report.AccuracyStd, 12);
        Assert.Equal(0.05, outcome.Scores[5], 5);

        // One fold alone would pick its threshold on its own pairs: refused. A fold that does not exist: refused.
        var alone = Assert.Throws<ArgumentException>(() => new VerificationProtocol(pairs, new VerificationOptions { Folds = new HashSet<int> { 2 } }));
        Assert.Contains("two folds", alone.Message);
        Assert.Throws<ArgumentException>(() => new VerificationProtocol(pairs, new VerificationOptions { Folds = new HashSet<int> { 3 } }));
    }

    /// <summary>Returns fixed detections per image, chosen by the image's width.</summary>
    private sealed class FixedDetector(Dictionary<int, DetectedFace[]> byWidth) : IFaceDetector
    {
        public string Name => "fixed";

        public bool HasLandmarks => true;

        public IReadOnlyList<DetectedFace> Detect(RgbImage image) => byWidth.GetValueOrDefault(image.Width, []);

        public void Dispose() { }
    }

    private static FaceLandmarks Marks(float x, float y, float shift = 0) =>
        new(new Vector2(x + shift, y), new Vector2(x + 10 + shift, y), new Vector2(x + 5 + shift, y + 5), new Vector2(x + 1 + shift, y + 9), new Vector2(x + 9 + shift, y + 9));

    [Fact]
    public void DetectionScoresTheKnownPrecisionRecallCurve()
    {
        string root = TestPaths.NewTempDirectory("protocol-detect");
        ImageEncoder.Save(new RgbImage(64, 64), Path.Combine(root, "a.png"));
        ImageEncoder.Save(new RgbImage(65, 64), Path.Combine(root, "b.png"));
        var truth = new List<(string, List<AnnotatedFace>)>
        {
            ("a.png", [new AnnotatedFace(new FaceBox(10, 10, 30, 30), null)]),
            ("b.png", [new AnnotatedFace(new FaceBox(5, 5, 25, 25), null), new AnnotatedFace(new FaceBox(35, 35, 55, 55), null)]),
        };
        var detector = new FixedDetector(new()
        {
            [64] = [new DetectedFace(new FaceBox(10, 10, 30, 30), 0.9f, null)],
            [65] = [new DetectedFace(new FaceBox(40, 0, 60, 20), 0.95f, null), new DetectedFace(new FaceBox(5, 5, 25, 25), 0.8f, null)],
        });
        var outcome = DetectionProtocol.Run(detector, root, truth);
        // By score: a false positive, then two hits; the envelope is 2/3 at recall 1/3 and 2/3.
        Assert.Equal(2 / 3.0, outcome.Report.Recall, 12);
        Assert.Equal(4 / 9.0, outcome.Report.AveragePrecision, 12);
        Assert.Equal(3, outcome.Report.Detections);
        Assert.Null(outcome.OcclusionIou);
        var noBranch = Assert.Throws<ArgumentException>(() => DetectionProtocol.Run(detector, root, truth, new DetectionOptions { Masks = root }));
        Assert.Contains("no occlusion branch", noBranch.Message);
    }

    [Fact]
    public void LandmarksScoreTheKnownNormalisedError()
    {
        string root = TestPaths.NewTempDirectory("protocol-landmarks");
        for (int w = 64; w < 67; w++) ImageEncoder.Save(new RgbImage(w, 64), Path.Combine(root, $"{w}.png"));
        var reference = new Dictionary<string, FaceLandmarks> { ["64.png"] = Marks(27, 27), ["65.png"] = Marks(27, 27), ["66.png"] = Marks(27, 27) };
        var detector = new FixedDetector(new()
        {
            // Shifted by a tenth of the 10-pixel eye distance: NME 0.1; exact: 0; the third image has no face.
            [64] = [new DetectedFace(new FaceBox(20, 20, 44, 44), 0.9f, Marks(27, 27, shift: 1))],
            [65] = [new DetectedFace(new FaceBox(20, 20, 44, 44), 0.9f, Marks(27, 27))],
        });
        var report = LandmarkProtocol.Run(detector, root, reference, ["64.png", "65.png", "66.png"]);
        Assert.Equal(3, report.Images);
        Assert.Equal(2, report.Found);
        Assert.Equal(2 / 3.0, report.DetectionRate, 12);
        Assert.Equal(0.05, report.Nme, 6);
        Assert.Equal(0, report.NmeOver10Percent);
    }
}
