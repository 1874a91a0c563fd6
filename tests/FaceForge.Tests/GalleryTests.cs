using FaceForge.Gallery;
using Microsoft.Data.Sqlite;
using Xunit;

namespace FaceForge.Tests;

/// <summary>The gallery core: exact search against brute force, HNSW recall, calibration, the SQLite store and its faults.</summary>
public class GalleryTests
{
    private static GalleryModel Model(int dim, string fingerprint = "f00d") => new(fingerprint, "test", dim, "arcface", "/models/test.ffm", null);

    private static FaceGallery Memory(int dim, GalleryPrecision precision = GalleryPrecision.Float32, GalleryOpenOptions? open = null) =>
        FaceGallery.Open(new MemoryGalleryStore(new GalleryHeader(Model(dim), new GalleryOptions { Precision = precision }, null, null)), open);

    /// <summary>A vector as a float16 gallery stores it.</summary>
    private static float[] Stored(float[] vector)
    {
        var half = new Half[vector.Length];
        VectorCodec.ToHalf(vector, half);
        return half.Select(v => (float)v).ToArray();
    }

    private static string NewPath() => Path.Combine(TestPaths.NewTempDirectory("gallery"), "faces.gallery");

    [Theory]
    [InlineData(GalleryPrecision.Float32)]
    [InlineData(GalleryPrecision.Float16)]
    public void ExactSearchMatchesBruteForceOverBestTemplates(GalleryPrecision precision)
    {
        const int dim = 48, subjects = 150, perSubject = 4;
        using var gallery = Memory(dim, precision);
        var faces = Enumerable.Range(0, subjects * perSubject).Select(i => new GalleryFace($"p{i % subjects}", SyntheticEmbeddings.Vector(3, i, dim))).ToList();
        gallery.Enroll(faces);
        // Brute force in double over the vectors as stored (float16 rounds them).
        var stored = faces.Select(f => precision == GalleryPrecision.Float32 ? f.Vector : Stored(f.Vector)).ToList();
        for (int q = 0; q < 40; q++)
        {
            var probe = q % 2 == 0 ? SyntheticEmbeddings.Near(3, q * 7, dim, 0.75f, 99) : SyntheticEmbeddings.Vector(77, q, dim);
            var expected = Enumerable.Range(0, faces.Count)
                .Select(i => (Subject: faces[i].Subject, Score: stored[i].Zip(probe, (a, b) => (double)a * b).Sum()))
                .GroupBy(x => x.Subject).Select(g => (Subject: g.Key, Score: g.Max(x => x.Score))).OrderByDescending(x => x.Score).Take(5).ToList();
            var found = gallery.Identify(probe, 5);
            Assert.Equal("exact", found.Index);
            Assert.Equal(expected.Select(e => e.Subject), found.Matches.Select(m => m.Subject));
            foreach (var (e, m) in expected.Zip(found.Matches)) Assert.Equal(e.Score, m.Score, 1e-5);
        }
    }

    [Fact]
    public void OneSubjectWithManyTemplatesDoesNotCrowdOutOthers()
    {
        const int dim = 16;
        using var gallery = Memory(dim);
        var centre = SyntheticEmbeddings.Vector(5, 0, dim);
        // 100 near-copies of one subject, then 3 other subjects: top-3 must still list three subjects.
        gallery.Enroll(Enumerable.Range(0, 100).Select(i => new GalleryFace("crowd", SyntheticEmbeddings.Near(5, 0, dim, 0.05f, i + 1))).ToList());
        gallery.Enroll(Enumerable.Range(1, 3).Select(i => new GalleryFace($"other{i}", SyntheticEmbeddings.Vector(5, i, dim))).ToList());
        var found = gallery.Identify(centre, 3);
        Assert.Equal(3, found.Matches.Select(m => m.Subject).Distinct().Count());
        Assert.Equal("crowd", found.Best!.Subject);
    }

    [Fact]
    public void Float16ScanScoresEqualTheWidenedDotProduct()
    {
        // 50 dimensions leave a tail after the 16-wide blocks; rows of values below float16's smallest normal (stored
        // as zero), of mixed signs and large values, and of zeros check the scan's bit trick against the general conversion.
        const int dim = 50;
        var index = new ExactIndex(dim, GalleryPrecision.Float16);
        var rows = new List<float[]>
        {
            Enumerable.Repeat(3e-6f, dim).ToArray(),
            Enumerable.Range(0, dim).Select(j => j % 2 == 0 ? -2e-5f : 7e-5f).ToArray(),
            new float[dim],
            Enumerable.Range(0, dim).Select(j => j % 3 == 0 ? -0.9f : 0.5f).ToArray(),
        };
        rows.AddRange(Enumerable.Range(0, 30).Select(i => SyntheticEmbeddings.Vector(4, i, dim)));
        for (int i = 0; i < rows.Count; i++) index.Add(i + 1, i, rows[i]);
        Assert.All(index.Vector(0), v => Assert.Equal(0f, v));
        Assert.Equal(rows[1].Select(v => Math.Abs(v) < 6.1e-5f ? 0f : (float)(Half)v), index.Vector(1));
        Assert.Equal(rows[5].Select(v => (float)(Half)v), index.Vector(5)); // unit vectors: components far above 6.1e-5
        for (int q = 0; q < 5; q++)
        {
            var probe = SyntheticEmbeddings.Vector(40, q, dim);
            var found = index.Search(probe, rows.Count);
            Assert.Equal(rows.Count, found.Count);
            foreach (var (row, score) in found)
            {
                double expected = index.Vector(row).Zip(probe, (a, b) => (double)a * b).Sum();
                Assert.True(Math.Abs(score - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"row {row}: {score} vs {expected}");
                Assert.Equal(index.Score(row, probe), score, 5);
            }
            Assert.NotEqual(0, found.Single(f => f.Row == 1).Score);
        }
        // Past the first chunk of rows (8,192): the scan and its prefetch cross into the next chunk.
        var big = new ExactIndex(16, GalleryPrecision.Float16);
        for (int i = 0; i < 8300; i++) big.Add(i + 1, i, SyntheticEmbeddings.Vector(6, i, 16));
        var query = SyntheticEmbeddings.Vector(60, 0, 16);
        var best = big.Search(query, 5);
        var expectedRows = Enumerable.Range(0, 8300).Select(r => (Row: r, Score: big.Vector(r).Zip(query, (a, b) => (double)a * b).Sum()))
            .OrderByDescending(x => x.Score).Take(5).ToList();
        Assert.Equal(expectedRows.Select(e => e.Row), best.Select(b => b.Row));
        Assert.Equal(8300, big.Search(query, 9000).Count);
    }

    [Theory]
    [InlineData(7)]   // shorter than one 32-wide block: all tail
    [InlineData(50)]  // one block and a tail
    [InlineData(128)] // blocks only
    public void Float32ScanScoresEqualTheDotProduct(int dim)
    {
        var index = new ExactIndex(dim, GalleryPrecision.Float32);
        var rows = Enumerable.Range(0, 40).Select(i => SyntheticEmbeddings.Vector(5, i, dim)).ToList();
        rows.Add(Enumerable.Range(0, dim).Select(j => j % 3 == 0 ? -0.9f : 0.5f).ToArray());
        for (int i = 0; i < rows.Count; i++) index.Add(i + 1, i, rows[i]);
        var probe = SyntheticEmbeddings.Vector(41, 0, dim);
        var found = index.Search(probe, rows.Count);
        Assert.Equal(rows.Count, found.Count);
        foreach (var (row, score) in found)
        {
            double expected = rows[row].Zip(probe, (a, b) => (double)a * b).Sum();
            Assert.True(Math.Abs(score - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"dim {dim} row {row}: {score} vs {expected}");
            Assert.Equal(score, index.Score(row, probe)); // re-ranked HNSW candidates score as the scan does
        }
        var order = rows.Select((r, i) => (Row: i, Score: r.Zip(probe, (a, b) => (double)a * b).Sum())).OrderByDescending(x => x.Score).Take(3);
        Assert.Equal(order.Select(o => o.Row), found.Take(3).Select(f => f.Row));
    }

    [Fact]
    public void HnswGraphBuiltOnEveryCoreWhenFirstNeededHoldsEveryFace()
    {
        // The graph of a store that already holds faces is built in parallel (HnswIndex.AddMany), when first needed.
        const int dim = 32, n = 6000;
        var store = new MemoryGalleryStore(new GalleryHeader(Model(dim), new GalleryOptions(), null, null));
        store.AddFaces(Enumerable.Range(0, n).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(31, i, dim))).ToList());
        using var exact = FaceGallery.Open(store);
        using var hnsw = FaceGallery.Open(store, new GalleryOpenOptions { ForceHnsw = true });
        Assert.Equal("hnsw", hnsw.IndexKind);
        Assert.Null(hnsw.HnswCount); // opening builds nothing: commands that do not search never pay for the graph
        hnsw.PrepareIndex();
        Assert.Equal("built", hnsw.HnswSource);
        Assert.Equal(n, hnsw.HnswCount);
        var random = new Random(5);
        int hits = 0;
        for (int q = 0; q < 200; q++)
        {
            var probe = SyntheticEmbeddings.Near(31, random.Next(n), dim, 0.5f, 900 + q);
            if (exact.Identify(probe, 1).Best!.FaceId == hnsw.Identify(probe, 1).Best!.FaceId) hits++;
        }
        Assert.True(hits >= 196, $"recall@1 {hits / 200.0}");
    }

    [Fact]
    public void HnswRecallAtOneMatchesExactOn20kVectors()
    {
        const int dim = 64, n = 20_000, queries = 400;
        using var exact = Memory(dim);
        using var hnsw = Memory(dim, open: new GalleryOpenOptions { ForceHnsw = true });
        // Unrelated probes have no clear nearest neighbour in 64-d random data: the hardest case for a graph, it
        // needs a wider build and search beam than the defaults (which suit face probes: a mate or nobody).
        using var wide = Memory(dim, open: new GalleryOpenOptions { ForceHnsw = true, HnswExpansionAdd = 128, HnswExpansionSearch = 512, HnswCandidates = 512 });
        var faces = Enumerable.Range(0, n).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(21, i, dim))).ToList();
        // Graphs first, then faces added one by one (as a serving gallery grows); the other tests build in parallel.
        hnsw.PrepareIndex();
        wide.PrepareIndex();
        exact.Enroll(faces);
        hnsw.Enroll(faces);
        wide.Enroll(faces);
        Assert.Equal("hnsw", hnsw.IndexKind);
        Assert.Equal(n, hnsw.HnswCount);
        var random = new Random(4);
        int hits = 0, unrelatedHits = 0;
        for (int q = 0; q < queries; q++)
        {
            var mated = SyntheticEmbeddings.Near(21, random.Next(n), dim, 0.75f, 500 + q);
            var truth = exact.Identify(mated, 1).Best!;
            var found = hnsw.Identify(mated, 1).Best!;
            if (truth.FaceId == found.FaceId)
            {
                hits++;
                Assert.Equal(truth.Score, found.Score, 6); // re-ranked exactly: the same score, not an approximation
            }
            var unrelated = SyntheticEmbeddings.Vector(900, q, dim);
            if (exact.Identify(unrelated, 1).Best!.FaceId == wide.Identify(unrelated, 1).Best!.FaceId) unrelatedHits++;
        }
        Assert.True(hits >= 0.99 * queries, $"recall@1 on mated probes (default settings) {hits}/{queries}");
        Assert.True(unrelatedHits >= 0.99 * queries, $"recall@1 on unrelated random probes (wide beam) {unrelatedHits}/{queries}");
    }

    [Fact]
    public void SignBitGraphRanksBySignsNotByAngle()
    {
        // Face 1 has every sign of the probe but points elsewhere; face 2 is 21 degrees from it but differs in one sign.
        static float[] Unit(float[] v) { var n = System.Numerics.Tensors.TensorPrimitives.Norm(v); return v.Select(x => x / n).ToArray(); }
        var probe = Unit([1, 1, 1, 1, 1, 1, 1, 1]);
        var signsAlike = Unit([0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 1]);
        var angleAlike = Unit([1, 1, 1, 1, 1, 1, 1, -0.01f]);
        foreach (var (kind, nearest) in new[] { (HnswVectors.Binary, 1L), (HnswVectors.Int8, 2L) })
        {
            using var index = new HnswIndex(8, new GalleryOpenOptions { HnswVectors = kind });
            index.Add(1, signsAlike);
            index.Add(2, angleAlike);
            Assert.Equal(nearest, index.Search(probe, 1)[0]);
        }
        Assert.Contains("multiple of 8", Assert.Throws<ArgumentException>(() => new HnswIndex(12, new GalleryOpenOptions { HnswVectors = HnswVectors.Binary })).Message);
    }

    [Fact]
    public void BinaryHnswGraphFindsTheMatesAndScoresThemExactly()
    {
        // Sign bits walked by Hamming distance: a probe's mate (cosine about 0.8) still comes first once re-ranked.
        const int dim = 256, n = 8000, queries = 200;
        using var exact = Memory(dim);
        using var binary = Memory(dim, open: new GalleryOpenOptions { ForceHnsw = true, HnswVectors = HnswVectors.Binary, HnswConnectivity = 32, HnswExpansionAdd = 128 });
        var faces = Enumerable.Range(0, n).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(41, i, dim))).ToList();
        binary.PrepareIndex(); // faces join the graph one by one
        exact.Enroll(faces);
        binary.Enroll(faces);
        Assert.Equal(n, binary.HnswCount);
        var random = new Random(6);
        int hits = 0;
        for (int q = 0; q < queries; q++)
        {
            var probe = SyntheticEmbeddings.Near(41, random.Next(n), dim, 0.75f, 700 + q);
            var truth = exact.Identify(probe, 1).Best!;
            var found = binary.Identify(probe, 1).Best!;
            if (truth.FaceId != found.FaceId) continue;
            hits++;
            Assert.Equal(truth.Score, found.Score, 6);
        }
        Assert.True(hits >= 0.98 * queries, $"recall@1 {hits}/{queries}");
        Assert.Equal("s123", binary.Identify(faces[123].Vector, 1).Best!.Subject);
    }

    [Fact]
    public void CalibratedThresholdLetsThroughAtMostTheTargetFpir()
    {
        var scores = Enumerable.Range(0, 200).Select(i => i / 200.0).ToList(); // 0, 0.005, …, 0.995
        double t = ThresholdCalibration.CalibrateThreshold(scores, 0.1);
        Assert.Equal(0.895, t, 9); // 20 scores strictly above
        Assert.Equal(0.1, ThresholdCalibration.Fpir(scores, t), 9);
        double strict = ThresholdCalibration.CalibrateThreshold(scores, 0.001);
        Assert.Equal(0.995, strict, 9);
        Assert.Equal(0, ThresholdCalibration.Fpir(scores, strict));
        var ties = new List<double> { 0.5, 0.5, 0.5, 0.5, 0.1 };
        Assert.True(ThresholdCalibration.Fpir(ties, ThresholdCalibration.CalibrateThreshold(ties, 0.5)) <= 0.5);
        Assert.Throws<ArgumentException>(() => ThresholdCalibration.CalibrateThreshold([], 0.1));
        Assert.Throws<ArgumentException>(() => ThresholdCalibration.CalibrateThreshold(scores, 0));
        Assert.Throws<ArgumentException>(() => ThresholdCalibration.CalibrateThreshold([0.1, double.NaN], 0.1));
    }

    [Fact]
    public void OpenSetDecisionUsesTheCalibratedThreshold()
    {
        const int dim = 64;
        using var gallery = Memory(dim);
        gallery.Enroll(Enumerable.Range(0, 50).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(8, i, dim))).ToList());
        var calibration = gallery.Calibrate(Enumerable.Range(0, 100).Select(i => SyntheticEmbeddings.Vector(9, i, dim)), 0.05);
        Assert.Equal(calibration.Threshold, gallery.Threshold);
        Assert.Equal(100, calibration.Probes);
        Assert.InRange(calibration.Fpir, 0.01, 0.05);
        var mated = gallery.Identify(SyntheticEmbeddings.Near(8, 3, dim, 0.5f, 1), 1);
        Assert.True(mated.Known);
        Assert.Equal("s3", mated.Best!.Subject);
        int passed = Enumerable.Range(0, 100).Count(i => gallery.Identify(SyntheticEmbeddings.Vector(9, i, dim), 1).Known == true);
        Assert.True(passed <= 5, $"{passed} of the calibration's unknown probes pass");
    }

    [Theory]
    [InlineData(GalleryPrecision.Float32)]
    [InlineData(GalleryPrecision.Float16)]
    public void SqliteStoreRoundTripsFacesMetadataAndThreshold(GalleryPrecision precision)
    {
        string path = NewPath();
        const int dim = 32;
        var faces = Enumerable.Range(0, 30).Select(i => new GalleryFace($"s{i % 7}", SyntheticEmbeddings.Vector(2, i, dim), i * 0.5, $"img{i}.png")).ToList();
        float[][] before;
        using (var gallery = FaceGallery.Create(path, Model(dim), new GalleryOptions { Precision = precision, HnswAbove = 1234 }))
        {
            var ids = gallery.Enroll(faces);
            Assert.Equal(30, ids.Count);
            gallery.SetMetadata("s3", new Dictionary<string, string?> { ["name"] = "Ada", ["team"] = "x" });
            gallery.SetMetadata("s3", new Dictionary<string, string?> { ["team"] = null });
            gallery.SetThreshold(0.42, 0.01);
            before = Enumerable.Range(0, 5).Select(q => SyntheticEmbeddings.Vector(40, q, dim)).ToArray();
        }
        using var reopened = FaceGallery.Open(path);
        Assert.Equal(30, reopened.Count);
        Assert.Equal(Model(dim), reopened.Model);
        Assert.Equal(precision, reopened.Options.Precision);
        Assert.Equal(1234, reopened.Options.HnswAbove);
        Assert.Equal(0.42, reopened.Threshold);
        Assert.Equal(0.01, reopened.Stats().ThresholdFpir);
        var subjects = reopened.Subjects();
        Assert.Equal(7, subjects.Count);
        Assert.Equal(5, subjects.Single(s => s.Id == "s0").Faces);
        Assert.Equal(new Dictionary<string, string> { ["name"] = "Ada" }, subjects.Single(s => s.Id == "s3").Metadata);
        using var store = SqliteGalleryStore.Open(path);
        var stored = store.ReadFaces().ToList();
        for (int i = 0; i < faces.Count; i++)
        {
            Assert.Equal(faces[i].Subject, stored[i].Subject);
            Assert.Equal(faces[i].Quality, stored[i].Quality);
            Assert.Equal(faces[i].Source, stored[i].Source);
            Assert.Equal(precision == GalleryPrecision.Float32 ? faces[i].Vector : Stored(faces[i].Vector), stored[i].Vector);
        }
        // Export: JSON with every face.
        using var json = new MemoryStream();
        reopened.Export(json);
        using var document = System.Text.Json.JsonDocument.Parse(json.ToArray());
        Assert.Equal(30, document.RootElement.GetProperty("faces").GetArrayLength());
        Assert.Equal(dim, document.RootElement.GetProperty("faces")[0].GetProperty("vector").GetArrayLength());
        Assert.Equal("Ada", document.RootElement.GetProperty("subjects").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "s3").GetProperty("metadata").GetProperty("name").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TwoGalleriesOnOneFileStayInStepThroughTheChangeLog(bool hnsw)
    {
        // A service and a 'gallery remove' in another process: a subject removed by one must stop matching in the other.
        string path = NewPath();
        const int dim = 24;
        var open = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero, ForceHnsw = hnsw ? true : null };
        using var first = FaceGallery.Create(path, Model(dim), open: open);
        first.Enroll(Enumerable.Range(0, 20).Select(i => new GalleryFace($"s{i % 5}", SyntheticEmbeddings.Vector(4, i, dim))).ToList());
        using var second = FaceGallery.Open(path, open);
        Assert.Equal("s1", second.Identify(SyntheticEmbeddings.Vector(4, 1, dim), 1).Best!.Subject);

        second.Remove("s1");
        var answer = first.Identify(SyntheticEmbeddings.Vector(4, 1, dim), 5);
        Assert.DoesNotContain("s1", answer.Matches.Select(m => m.Subject));
        Assert.Equal(16, first.Count);
        Assert.Null(first.Remove("s1"));

        second.Enroll([new GalleryFace("newcomer", SyntheticEmbeddings.Vector(4, 100, dim))]);
        Assert.Equal("newcomer", first.Identify(SyntheticEmbeddings.Vector(4, 100, dim), 1).Best!.Subject);
        first.SetThreshold(0.5, 0.01);
        Assert.Equal(0.5, second.Identify(SyntheticEmbeddings.Vector(4, 0, dim), 1).Threshold);
        // Each one's own writes come back through the log and are not applied twice.
        first.Enroll([new GalleryFace("late", SyntheticEmbeddings.Vector(4, 200, dim))]);
        first.Refresh();
        second.Refresh();
        Assert.Equal((18, 18), (first.Count, second.Count));
        using var reopened = FaceGallery.Open(path);
        Assert.Equal(first.FaceIds(), reopened.FaceIds());
        Assert.Equal(second.FaceIds(), reopened.FaceIds());
    }

    /// <summary>A gallery holding "ada" (vector <paramref name="seed"/>, 0) as builds before the change log wrote it: no table changes.</summary>
    private static string OldFormatGallery(int dim, int seed)
    {
        string path = NewPath();
        using (var gallery = FaceGallery.Create(path, Model(dim)))
            gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(seed, 0, dim))]);
        ExecuteOn(path, "DROP TABLE changes; DELETE FROM meta WHERE key = 'change_log'");
        return path;
    }

    private static void ExecuteOn(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [Theory]
    [InlineData("DROP TABLE changes")]
    // Made again by hand as FaceForge makes it: the log keeps its name (meta change_log) but numbers from 1 anew.
    [InlineData("DROP TABLE changes; CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, face_id INTEGER NOT NULL, added INTEGER NOT NULL)")]
    public void AChangeLogDroppedByHandIsMadeAgainAndReadersThenReadEveryFace(string sql)
    {
        const int dim = 8;
        string path = NewPath();
        var open = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero };
        using var reader = FaceGallery.Create(path, Model(dim), open: open);
        reader.Enroll(Enumerable.Range(0, 6).Select(i => new GalleryFace($"s{i % 3}", SyntheticEmbeddings.Vector(9, i, dim))).ToList());
        reader.Enroll([new GalleryFace("s3", SyntheticEmbeddings.Vector(9, 6, dim))]);
        reader.Refresh(); // its own adds come back through the log: it has now seen number 7
        using var writer = FaceGallery.Open(path, open);
        ExecuteOn(path, sql);
        // The writer's next write makes the log again if it is gone (it failed with 'no such table' before), numbered from 1 anew...
        Assert.Equal(2, writer.Remove("s0"));
        // ...and its later writes take the new numbers past the reader's 7, so the numbers alone cannot tell the reader.
        writer.Enroll(Enumerable.Range(0, 8).Select(i => new GalleryFace("s4", SyntheticEmbeddings.Vector(9, 10 + i, dim))).ToList());
        var answer = reader.Identify(SyntheticEmbeddings.Vector(9, 0, dim), 5);
        Assert.DoesNotContain("s0", answer.Matches.Select(m => m.Subject));
        Assert.Equal("s4", reader.Identify(SyntheticEmbeddings.Vector(9, 12, dim), 1).Best!.Subject);
        using var reopened = FaceGallery.Open(path);
        Assert.Equal(reopened.FaceIds(), reader.FaceIds());
        Assert.Equal(reopened.FaceIds(), writer.FaceIds());
    }

    [Theory]
    [InlineData("DROP TABLE changes; CREATE VIEW changes AS SELECT 1 AS seq, 1 AS face_id, 1 AS added", "is a view, not a table")]
    [InlineData("DROP TABLE changes; CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, face_id INTEGER NOT NULL)", "changed by hand")]
    [InlineData("ALTER TABLE changes ADD COLUMN note TEXT NOT NULL DEFAULT 'x'; CREATE TRIGGER nope BEFORE INSERT ON changes BEGIN SELECT RAISE(ABORT, 'nope'); END", "changed by hand")]
    public void AChangeLogAlteredByHandIsADamagedGalleryNotAnInternalError(string sql, string expected)
    {
        const int dim = 8;
        string path = NewPath();
        using (var gallery = FaceGallery.Create(path, Model(dim)))
            gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(8, 0, dim)), new GalleryFace("bob", SyntheticEmbeddings.Vector(8, 1, dim))]);
        ExecuteOn(path, sql);
        // Raw SqliteExceptions before (the CLI's "internal error"); now the gallery's own error, naming the file.
        var e = Record.Exception(() =>
        {
            using var gallery = FaceGallery.Open(path);
            gallery.Remove("ada");
        });
        var invalid = Assert.IsType<InvalidDataException>(e);
        Assert.Contains(path, invalid.Message);
        Assert.Contains(expected, invalid.Message);
    }

    [Fact]
    public void AStoreLockedPastTheTimeoutIsNotTriedAgainByEveryProbe()
    {
        const int dim = 8;
        string path = NewPath();
        var open = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero, LockTimeout = TimeSpan.FromSeconds(1) };
        using var gallery = FaceGallery.Create(path, Model(dim), open: open);
        gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(5, 0, dim))]);
        using var holder = new SqliteConnection($"Data Source={path};Pooling=false");
        holder.Open();
        using (var exclusive = holder.CreateCommand())
        {
            exclusive.CommandText = "BEGIN EXCLUSIVE";
            exclusive.ExecuteNonQuery();
        }
        long before = gallery.RefreshAttempts;
        // The first probe waits out the lock timeout and is answered from memory; the next ones do not wait again
        // (each waited the timeout before, holding the gallery's lock, so a service answered nothing in the meantime).
        for (int i = 0; i < 3; i++) Assert.Equal("ada", gallery.Identify(SyntheticEmbeddings.Vector(5, 0, dim), 1).Best!.Subject);
        Assert.Equal(1, gallery.RefreshAttempts - before);
    }

    [Fact]
    public void AnOldFileOpenedWhileAnotherWriterHoldsItStillFollowsTheLogOnceItExists()
    {
        const int dim = 8;
        string path = OldFormatGallery(dim, 7);
        using var holder = new SqliteConnection($"Data Source={path};Pooling=false");
        holder.Open();
        var open = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero, LockTimeout = TimeSpan.FromSeconds(1) };
        FaceGallery first;
        using (var hold = holder.BeginTransaction(deferred: false))
        {
            // Opened while another writer holds the file: it cannot add the log now.
            first = FaceGallery.Open(path, open);
            // ...and a probe meanwhile is answered from memory, not failed.
            Assert.Equal("ada", first.Identify(SyntheticEmbeddings.Vector(7, 0, dim), 1).Best!.Subject);
        }
        using (first)
        {
            using var second = FaceGallery.Open(path, open);
            Assert.Equal(1, first.Remove("ada"));
            second.Enroll([new GalleryFace("bob", SyntheticEmbeddings.Vector(7, 1, dim))]);
            Assert.Equal(["bob"], first.Identify(SyntheticEmbeddings.Vector(7, 0, dim), 5).Matches.Select(m => m.Subject));
            Assert.Equal(["bob"], second.Identify(SyntheticEmbeddings.Vector(7, 0, dim), 5).Matches.Select(m => m.Subject));
        }
    }

    [Fact]
    public void AGalleryFileWithoutTheChangeLogGetsItWhenOpened()
    {
        const int dim = 8;
        string path = OldFormatGallery(dim, 6);
        var open = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero };
        using var first = FaceGallery.Open(path, open);
        using var second = FaceGallery.Open(path, open);
        second.Enroll([new GalleryFace("bob", SyntheticEmbeddings.Vector(6, 1, dim))]);
        Assert.Equal("bob", first.Identify(SyntheticEmbeddings.Vector(6, 1, dim), 1).Best!.Subject);
        Assert.Equal(2, first.Count);
    }

    [Fact]
    public void EnrollingAKnownSubjectAddsTemplatesAndRemoveDeletesThemAll()
    {
        string path = NewPath();
        const int dim = 16;
        using (var gallery = FaceGallery.Create(path, Model(dim)))
        {
            gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(1, 0, dim)), new GalleryFace("bob", SyntheticEmbeddings.Vector(1, 1, dim))]);
            gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(1, 2, dim))]);
            Assert.Equal(2, gallery.Subjects().Single(s => s.Id == "ada").Faces);
            Assert.Equal(2, gallery.Remove("ada"));
            Assert.Null(gallery.Remove("nobody"));
            Assert.True(gallery.AddSubject("carol"));
            Assert.Equal(0, gallery.Remove("carol")); // a subject without faces is removed, not "unknown"
            Assert.Null(gallery.Subject("carol"));
            Assert.Equal(1, gallery.Count);
            Assert.All(Enumerable.Range(0, 3), i => Assert.Equal("bob", gallery.Identify(SyntheticEmbeddings.Vector(1, i, dim), 5).Best!.Subject));
        }
        using var reopened = FaceGallery.Open(path);
        Assert.Equal(["bob"], reopened.Subjects().Select(s => s.Id));
        Assert.Equal(1, reopened.Count);
        Assert.Equal(1, reopened.Stats().Subjects);
    }

    [Fact]
    public void SubjectIdsInEitherUnicodeFormAreOneSubject()
    {
        string path = NewPath();
        const int dim = 16;
        string typed = "Jos\u00E9", macFolder = "Jose\u0301"; // NFC as typed; NFD as a macOS folder name
        using var gallery = FaceGallery.Create(path, Model(dim));
        gallery.Enroll([new GalleryFace(typed, SyntheticEmbeddings.Vector(1, 0, dim)), new GalleryFace(macFolder, SyntheticEmbeddings.Vector(1, 1, dim))]);
        Assert.Equal([typed], gallery.Subjects().Select(s => s.Id));
        Assert.Equal(2, gallery.SubjectFaceCount(macFolder));
        Assert.Equal(2, gallery.Subject(macFolder)!.Faces);
        Assert.Equal(2, gallery.Remove(macFolder));
        Assert.Equal(0, gallery.Count);
    }

    [Fact]
    public void MetadataIsWrittenInTheSameTransactionAsTheFacesOrTheSubject()
    {
        string path = NewPath();
        const int dim = 16;
        using (var gallery = FaceGallery.Create(path, Model(dim)))
        {
            var meta = new Dictionary<string, IReadOnlyDictionary<string, string?>> { ["ada"] = new Dictionary<string, string?> { ["name"] = "Ada Lovelace" } };
            gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(1, 0, dim))], meta);
            Assert.True(gallery.AddSubject("bob", new Dictionary<string, string?> { ["team"] = "b" }));
            Assert.False(gallery.AddSubject("bob", new Dictionary<string, string?> { ["team"] = "changed" }));
            // Metadata for a subject that does not exist: the whole write fails, the face is not stored either.
            var stray = new Dictionary<string, IReadOnlyDictionary<string, string?>> { ["nobody"] = new Dictionary<string, string?> { ["x"] = "y" } };
            Assert.Throws<KeyNotFoundException>(() => gallery.Enroll([new GalleryFace("carl", SyntheticEmbeddings.Vector(1, 1, dim))], stray));
            Assert.Equal(1, gallery.Count);
        }
        using var reopened = FaceGallery.Open(path);
        Assert.Equal(1, reopened.Count);
        Assert.Null(reopened.Subject("carl"));
        Assert.Equal("Ada Lovelace", reopened.Subject("ada")!.Metadata["name"]);
        Assert.Equal(1, reopened.Subject("ada")!.Faces);
        Assert.Equal("b", reopened.Subject("bob")!.Metadata["team"]);
        Assert.Equal(0, reopened.Subject("bob")!.Faces);
    }

    [Fact]
    public void FacePagesFollowIdOrderAfterRemovals()
    {
        const int dim = 8;
        using var gallery = Memory(dim);
        var ids = gallery.Enroll(Enumerable.Range(0, 40).Select(i => new GalleryFace($"s{i % 10}", SyntheticEmbeddings.Vector(3, i, dim))).ToList());
        gallery.Remove("s3"); // removal moves the last rows into the holes: row order no longer follows ids
        var left = ids.Where((_, i) => i % 10 != 3).ToList();
        var (page, total) = gallery.FacePage(5, 10);
        Assert.Equal(36, total);
        Assert.Equal(left.Skip(5).Take(10), page.Select(f => f.Id));
        Assert.Equal(Enumerable.Range(0, 40).Where(i => i % 10 != 3).Skip(5).Take(10).Select(i => $"s{i % 10}"), page.Select(f => f.Subject));
        Assert.Empty(gallery.FacePage(36, 10).Faces);
        Assert.Equal(left.Skip(30), gallery.FacePage(30, 100).Faces.Select(f => f.Id));
    }

    [Fact]
    public void RemovalKeepsTheHnswIndexInStep()
    {
        const int dim = 16;
        using var gallery = Memory(dim, open: new GalleryOpenOptions { ForceHnsw = true });
        gallery.Enroll(Enumerable.Range(0, 200).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(6, i, dim))).ToList());
        gallery.PrepareIndex();
        Assert.Equal(200, gallery.HnswCount);
        gallery.Remove("s10");
        Assert.Equal(199, gallery.HnswCount);
        Assert.NotEqual("s10", gallery.Identify(SyntheticEmbeddings.Vector(6, 10, dim), 1).Best!.Subject);
    }

    [Fact]
    public void AnotherModelOrEmbeddingSizeIsRefusedNamingBoth()
    {
        using var gallery = Memory(32);
        gallery.RequireModel("F00D", 32, "same");
        var other = Assert.Throws<InvalidDataException>(() => gallery.RequireModel("beef", 32, "mobilefacenet /tmp/other.ffm"));
        Assert.Contains("/models/test.ffm", other.Message);
        Assert.Contains("/tmp/other.ffm", other.Message);
        var size = Assert.Throws<InvalidDataException>(() => gallery.RequireModel("f00d", 128, "mobilefacenet /tmp/other.ffm"));
        Assert.Contains("32-d", size.Message);
        Assert.Contains("128-d", size.Message);
        var wrong = Assert.Throws<ArgumentException>(() => gallery.Enroll([new GalleryFace("x", new float[31], Source: "a.png")]));
        Assert.Contains("a.png", wrong.Message);
        Assert.Throws<ArgumentException>(() => gallery.Enroll([new GalleryFace("x", new float[32])]));
    }

    [Fact]
    public void CorruptOrForeignFilesAreRefusedNamingTheFile()
    {
        string garbage = NewPath();
        File.WriteAllBytes(garbage, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(garbage));
        Assert.Contains(garbage, e.Message);
        Assert.Contains("not a FaceForge gallery", e.Message);

        string foreign = NewPath();
        ExecuteSql(foreign, "CREATE TABLE people (name TEXT)");
        var f = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(foreign));
        Assert.Contains(foreign, f.Message);
        Assert.Contains("not a FaceForge gallery", f.Message);

        // A gallery whose vector blob was cut short names the face.
        string damaged = NewPath();
        using (var gallery = FaceGallery.Create(damaged, Model(8))) gallery.Enroll([new GalleryFace("a", SyntheticEmbeddings.Vector(1, 0, 8))]);
        ExecuteSql(damaged, "UPDATE faces SET vector = x'0000'");
        var d = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(damaged));
        Assert.Contains(damaged, d.Message);
        Assert.Contains("face 1", d.Message);

        // A damaged threshold row names the row (it was a bare FormatException).
        string badThreshold = NewPath();
        using (var gallery = FaceGallery.Create(badThreshold, Model(8))) gallery.Enroll([new GalleryFace("a", SyntheticEmbeddings.Vector(1, 0, 8))]);
        Assert.Equal(1, ExecuteSql(badThreshold, "UPDATE meta SET value = '0,5' WHERE key = 'threshold'"));
        var t = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(badThreshold));
        Assert.Contains(badThreshold, t.Message);
        Assert.Contains("'threshold' is '0,5'", t.Message);
        Assert.Throws<FileNotFoundException>(() => FaceGallery.Open(NewPath()));
    }

    /// <summary>Runs one statement on a gallery file behind the store's back; returns the rows changed.</summary>
    private static int ExecuteSql(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    [Fact]
    public void AWriterHoldingTheFileMakesEnrolmentFailAsLockedAndLosesNothing()
    {
        string path = NewPath();
        using var gallery = FaceGallery.Create(path, Model(8), open: new GalleryOpenOptions { LockTimeout = TimeSpan.FromSeconds(1) });
        gallery.Enroll([new GalleryFace("a", SyntheticEmbeddings.Vector(1, 0, 8))]);
        using (var other = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            other.Open();
            using var transaction = other.BeginTransaction(deferred: false);
            var e = Assert.Throws<LockedException>(() => gallery.Enroll([new GalleryFace("b", SyntheticEmbeddings.Vector(1, 1, 8))]));
            Assert.Contains(path, e.Message);
        }
        Assert.Equal(1, gallery.Count);
        gallery.Enroll([new GalleryFace("b", SyntheticEmbeddings.Vector(1, 1, 8))]);
        using var reopened = FaceGallery.Open(path);
        Assert.Equal(2, reopened.Count);
    }

    [Fact]
    public void CreateRefusesAnExistingFileUnlessOverwriting()
    {
        string path = NewPath();
        using (var gallery = FaceGallery.Create(path, Model(8))) gallery.Enroll([new GalleryFace("a", SyntheticEmbeddings.Vector(1, 0, 8))]);
        Assert.Throws<IOException>(() => FaceGallery.Create(path, Model(8)));
        using (var kept = FaceGallery.Open(path)) Assert.Equal(1, kept.Count);
        using var replaced = FaceGallery.Create(path, Model(8), overwrite: true);
        Assert.Equal(0, replaced.Count);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.creating"));
    }

    [Fact]
    public void AnUnreachableServerIsAClearErrorNamingIt()
    {
        string nowhere = "Host=/nonexistent-faceforge-socket;Port=1;Username=nobody;Database=faces";
        Assert.Throws<GalleryUnavailableException>(() => FaceGallery.Open(nowhere));
        var (code, _, error) = CliHarness.Run("gallery", "stats", nowhere);
        Assert.Equal(2, code);
        Assert.Contains("unreachable", error);
        Assert.Contains("/nonexistent-faceforge-socket", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void SavedHnswGraphIsLoadedBroughtUpToDateAndNeverTakenFromAnotherGallery()
    {
        const int dim = 64, n = 3000;
        string path = NewPath(), graph = path + ".hnsw";
        var open = new GalleryOpenOptions { ForceHnsw = true };
        var faces = Enumerable.Range(0, n).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(51, i, dim))).ToList();
        float[] Probe(int i) => SyntheticEmbeddings.Near(51, i, dim, 0.5f, 800 + i);
        using (var gallery = FaceGallery.Create(path, Model(dim), open: open))
        {
            gallery.Enroll(faces);
            Assert.False(File.Exists(graph)); // enrolment alone builds no graph
            Assert.Equal("s5", gallery.Identify(Probe(5), 1).Best!.Subject);
            Assert.Equal("built", gallery.HnswSource);
        }
        Assert.True(File.Exists(graph) && File.Exists(graph + ".json"));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.saving"));

        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("loaded", gallery.HnswSource);
            Assert.Equal(n, gallery.HnswCount);
            Assert.Equal("s7", gallery.Identify(Probe(7), 1).Best!.Subject);
            // Changes after the save, in this process and (below) before the next open.
            gallery.Enroll([new GalleryFace("late", SyntheticEmbeddings.Vector(52, 0, dim))]);
            Assert.Equal(n + 1, gallery.HnswCount);
        }
        using (var gallery = FaceGallery.Open(path, open with { ForceHnsw = false }))
        {
            Assert.Equal(1, gallery.Remove("s9"));
            gallery.Enroll(Enumerable.Range(0, 40).Select(i => new GalleryFace($"new{i}", SyntheticEmbeddings.Vector(53, i, dim))).ToList());
            Assert.Null(gallery.HnswCount); // HNSW not forced and below the default size threshold: exact, no graph touched
        }
        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("updated", gallery.HnswSource); // 41 added and 1 removed since the save (over 1 %: saved again)
            Assert.Equal(n + 40, gallery.HnswCount);
            Assert.Equal(gallery.Count, gallery.HnswCount);
            Assert.Equal("new17", gallery.Identify(SyntheticEmbeddings.Near(53, 17, dim, 0.5f, 1), 1).Best!.Subject);
            Assert.Equal("late", gallery.Identify(SyntheticEmbeddings.Near(52, 0, dim, 0.5f, 1), 1).Best!.Subject);
            Assert.NotEqual("s9", gallery.Identify(Probe(9), 1).Best!.Subject);
        }

        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("loaded", gallery.HnswSource);
        }

        // Other graph settings, a damaged graph, a manifest that is not one: rebuilt, and the gallery answers as before.
        using (var gallery = FaceGallery.Open(path, open with { HnswConnectivity = 24 }))
        {
            gallery.PrepareIndex();
            Assert.Equal("built", gallery.HnswSource);
        }
        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("built", gallery.HnswSource); // the connectivity-24 graph replaced the saved one
        }
        var bytes = File.ReadAllBytes(graph);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(graph, bytes);
        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("built", gallery.HnswSource);
            Assert.Equal("s11", gallery.Identify(Probe(11), 1).Best!.Subject);
        }
        File.WriteAllText(graph + ".json", "{ not json");
        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("built", gallery.HnswSource);
        }

        // A FIFO in place of the manifest, then of the graph: opening one blocks until a writer comes, so neither is
        // opened; the gallery rebuilds and its save renames real files over them.
        if (OperatingSystem.IsLinux())
            foreach (string fifo in new[] { graph + ".json", graph })
            {
                File.Delete(fifo);
                using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
                {
                    mkfifo.WaitForExit();
                    Assert.True(mkfifo.ExitCode == 0 && new FileInfo(fifo).Length == 0, $"mkfifo {fifo} failed");
                }
                using (var gallery = FaceGallery.Open(path, open))
                {
                    PrepareWithinTwoMinutes(gallery, $"with a FIFO at {Path.GetFileName(fifo)}");
                    Assert.Equal("built", gallery.HnswSource);
                }
                Assert.True(new FileInfo(fifo).Length > 0); // the FIFO was replaced by the saved file
            }

        // The manifest is not hashed: a highest face id edited to long.MaxValue once made the catch-up walk every id up
        // to it (a search that never returned). Now the walk ends at the graph's own ids; the graph loads as it is.
        string manifest = File.ReadAllText(graph + ".json");
        File.WriteAllText(graph + ".json", System.Text.RegularExpressions.Regex.Replace(manifest, "\"max_face_id\":\\s*\\d+", $"\"max_face_id\":{long.MaxValue}"));
        Assert.NotEqual(manifest, File.ReadAllText(graph + ".json"));
        using (var gallery = FaceGallery.Open(path, open))
        {
            PrepareWithinTwoMinutes(gallery, "with an edited max_face_id");
            Assert.Equal("loaded", gallery.HnswSource);
            Assert.Equal(gallery.Count, gallery.HnswCount);
            Assert.Equal("s13", gallery.Identify(Probe(13), 1).Best!.Subject);
        }

        // Stale temporaries: only this graph's own (GRAPH[.json].GUID.saving) are ever deleted, never a user's file
        // that merely starts with the graph's name.
        string own = graph + "." + Guid.NewGuid().ToString("N") + ".saving", ownManifest = graph + ".json." + Guid.NewGuid().ToString("N") + ".saving";
        string notes = graph + "-my-notes.saving", other = graph + ".x.saving";
        foreach (string f in new[] { own, ownManifest, notes, other })
        {
            File.WriteAllText(f, "x");
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddHours(-2));
        }
        new HnswGraphFile(graph, "any").DeleteStaleTemporaries(TimeSpan.FromHours(1));
        Assert.False(File.Exists(own));
        Assert.False(File.Exists(ownManifest));
        Assert.True(File.Exists(notes) && File.Exists(other));
        File.Delete(notes);
        File.Delete(other);

        // A gallery restored from a backup whose face ids were since given to other faces: the newer graph is not its own.
        string backup = path + ".backup";
        IReadOnlyList<long> keptIds = [];
        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("loaded", gallery.HnswSource);
        }
        File.Copy(path, backup);
        using (var gallery = FaceGallery.Open(path, open))
        {
            keptIds = gallery.Enroll(Enumerable.Range(0, 100).Select(i => new GalleryFace($"kept{i}", SyntheticEmbeddings.Vector(55, i, dim))).ToList());
            gallery.PrepareIndex();
            Assert.Equal("updated", gallery.HnswSource); // and saved again (100 changes, over 1 %)
        }
        File.Copy(backup, path, overwrite: true);
        using (var gallery = FaceGallery.Open(path, open))
        {
            var reused = gallery.Enroll(Enumerable.Range(0, 100).Select(i => new GalleryFace($"restored{i}", SyntheticEmbeddings.Vector(56, i, dim))).ToList());
            Assert.Equal(keptIds, reused); // the same ids, other faces
            gallery.PrepareIndex();
            Assert.Equal("built", gallery.HnswSource);
            Assert.Equal("restored42", gallery.Identify(SyntheticEmbeddings.Near(56, 42, dim, 0.5f, 1), 1).Best!.Subject);
        }

        // A new gallery at the same path (the old graph kept aside and put back): another gallery's graph.
        using (var gallery = FaceGallery.Open(path, open))
        {
            gallery.PrepareIndex();
            Assert.Equal("loaded", gallery.HnswSource);
        }
        File.Copy(graph, graph + ".aside");
        File.Copy(graph + ".json", graph + ".json.aside");
        using (FaceGallery.Create(path, Model(dim), overwrite: true, open: open)) { }
        Assert.False(File.Exists(graph)); // replacing a gallery deletes its graph
        File.Move(graph + ".aside", graph);
        File.Move(graph + ".json.aside", graph + ".json");
        using (var replaced = FaceGallery.Open(path, open))
        {
            replaced.Enroll(Enumerable.Range(0, n + 40).Select(i => new GalleryFace($"other{i}", SyntheticEmbeddings.Vector(54, i, dim))).ToList());
            replaced.PrepareIndex();
            Assert.Equal("built", replaced.HnswSource);
            Assert.Equal("other3", replaced.Identify(SyntheticEmbeddings.Near(54, 3, dim, 0.5f, 1), 1).Best!.Subject);
        }

        // A graph that cannot be saved (here its name is taken by a folder): used, not saved, nothing half-written left.
        File.Delete(graph);
        Directory.CreateDirectory(graph);
        using (var gallery = FaceGallery.Open(path, open))
        {
            Assert.Equal("other3", gallery.Identify(SyntheticEmbeddings.Near(54, 3, dim, 0.5f, 1), 1).Best!.Subject);
            Assert.Equal("built", gallery.HnswSource);
        }
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.saving"));
    }

    /// <summary>PrepareIndex on a background thread: a hang fails the test (after 2 minutes) instead of stalling the run.</summary>
    private static void PrepareWithinTwoMinutes(FaceGallery gallery, string what)
    {
        var prepare = new Thread(gallery.PrepareIndex) { IsBackground = true };
        prepare.Start();
        Assert.True(prepare.Join(TimeSpan.FromMinutes(2)), $"PrepareIndex did not return {what}");
    }
    // A full disk: the enrolment that does not fit is refused whole, naming the file; every committed face stays, the
    // graph that cannot be saved is still searched, and nothing half-written is left beside the gallery.
    [MountFact]
    public void AFullDiskRefusesTheEnrolmentWholeAndKeepsTheGalleryAndItsSearch()
    {
        const int dim = 64, n = 2000;
        string mount = TestPaths.NewTempDirectory("gallery-disk"), path = Path.Combine(mount, "faces.gallery");
        // About 0.6 MB of float32 rows for n faces: the gallery fits, a second n faces and its journal do not.
        Assert.True(FaultTests.Mount(mount, "size=1100k"));
        try
        {
            var open = new GalleryOpenOptions { ForceHnsw = true };
            float[] Probe(int i) => SyntheticEmbeddings.Near(61, i, dim, 0.5f, 900 + i);
            string filler;
            using (var gallery = FaceGallery.Create(path, Model(dim), open: open))
            {
                gallery.Enroll(Enumerable.Range(0, n).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(61, i, dim))).ToList());
                var more = Enumerable.Range(0, 2 * n).Select(i => new GalleryFace($"t{i}", SyntheticEmbeddings.Vector(62, i, dim))).ToList();
                var full = Assert.Throws<IOException>(() => gallery.Enroll(more));
                Assert.Contains(path, full.Message);
                Assert.Contains("No space left", full.Message);
                Assert.Equal(n, gallery.Count);
                // The rolled-back journal freed its space: fill it, so the graph's save finds the disk full.
                filler = FaultTests.FillDisk(mount);
                // The graph is built in memory and its save fails for want of space: the search still answers from it.
                Assert.Equal("s5", gallery.Identify(Probe(5), 1).Best!.Subject);
                Assert.Equal("built", gallery.HnswSource);
            }
            Assert.False(File.Exists(path + ".hnsw"));
            Assert.Empty(Directory.GetFiles(mount, "*.saving"));
            File.Delete(filler);
            using (var gallery = FaceGallery.Open(path, open))
            {
                Assert.Equal(n, gallery.Count);
                Assert.DoesNotContain(gallery.Subjects(), s => s.Id.StartsWith('t'));
                Assert.Equal("s1999", gallery.Identify(Probe(1999), 1).Best!.Subject);
            }
        }
        finally
        {
            FaultTests.Unmount(mount);
        }
    }
}
