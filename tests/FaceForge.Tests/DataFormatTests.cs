using FaceForge.Data;
using FaceForge.Data.RecordIo;
using FaceForge.Evaluation;
using FaceForge.Imaging;
using Xunit;

namespace FaceForge.Tests;

public class DataFormatTests
{
    internal static string MakeFolder(string name, int identities, int images)
    {
        string root = TestPaths.NewTempDirectory(name);
        for (int i = 0; i < identities; i++)
        {
            Directory.CreateDirectory(Path.Combine(root, $"person{i}"));
            for (int k = 0; k < images; k++)
            {
                var image = new RgbImage(8, 8);
                image.Pixels.Fill((byte)(i * 40 + k));
                File.WriteAllBytes(Path.Combine(root, $"person{i}", $"{k}.png"), ImageEncoder.EncodePng(image));
            }
        }
        return root;
    }

    [Fact]
    public void FolderDatasetLabelsByOrdinalFolderOrder()
    {
        string root = MakeFolder("folder", 3, 2);
        using var dataset = ImageFolderDataset.Open(root, cacheDirectory: Path.Combine(root, "..", Path.GetFileName(root) + "-cache"));
        Assert.Equal((3, 6), (dataset.IdentityCount, dataset.Count));
        Assert.Equal(["person0", "person1", "person2"], dataset.IdentityNames);
        Assert.Equal(2, dataset.GetLabel(5));
        Assert.Equal(81, ImageDecoder.Decode(dataset.ReadEncoded(5), "x").Pixels[0]);
    }

    [Fact]
    public void FolderIndexIsCachedAndRefreshedWhenAFolderChanges()
    {
        string root = MakeFolder("cache", 2, 2);
        string cache = root + "-cache";
        using (var first = ImageFolderDataset.Open(root, cacheDirectory: cache)) Assert.Equal(4, first.Count);
        string cacheFile = Assert.Single(Directory.GetFiles(cache));
        var written = File.GetLastWriteTimeUtc(cacheFile);
        using (var second = ImageFolderDataset.Open(root, cacheDirectory: cache)) Assert.Equal(4, second.Count);
        Assert.Equal(written, File.GetLastWriteTimeUtc(cacheFile)); // reused, not rewritten
        Thread.Sleep(20);
        File.Copy(Path.Combine(root, "person1", "0.png"), Path.Combine(root, "person1", "9.png"));
        using var third = ImageFolderDataset.Open(root, cacheDirectory: cache);
        Assert.Equal(5, third.Count);
    }

    [Fact]
    public void EmptyIdentityFolderIsAnErrorUnlessSkipped()
    {
        string root = MakeFolder("empty", 2, 1);
        Directory.CreateDirectory(Path.Combine(root, "nobody"));
        var e = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Open(root, cacheDirectory: root + "-cache"));
        Assert.Contains("nobody", e.Message);
        using var skipped = ImageFolderDataset.Open(root, skipEmpty: true, cacheDirectory: root + "-cache");
        Assert.Equal(2, skipped.IdentityCount);
        Assert.Equal(["nobody"], skipped.SkippedFolders);
    }

    [Fact]
    public void RecordIoRoundTripsRecordsThatContainTheMagic()
    {
        string dir = TestPaths.NewTempDirectory("rec");
        string prefix = Path.Combine(dir, "train");
        var magic = BitConverter.GetBytes(RecordIoFraming.Magic);
        byte[][] records = [[1, 2, 3], [.. magic, 9, 9, 9, 9, .. magic, 7], [], [.. Enumerable.Range(0, 1001).Select(i => (byte)i)]];
        using (var writer = new RecordIoWriter(prefix))
        {
            for (int i = 0; i < records.Length; i++) writer.Write(i + 10, records[i]);
            writer.Commit();
        }
        using var reader = new RecordIoReader(prefix + ".rec");
        Assert.Equal([10L, 11, 12, 13], reader.Keys);
        for (int i = 0; i < records.Length; i++) Assert.Equal(records[i], reader.Read(i + 10));
    }

    [Fact]
    public void PackedFolderReadsBackAsInsightFaceRecordIo()
    {
        string root = MakeFolder("pack", 3, 2);
        using var folder = ImageFolderDataset.Open(root, cacheDirectory: root + "-cache");
        string prefix = Path.Combine(root + "-out", "train");
        var (written, skipped) = DatasetPacker.Pack(folder, prefix);
        Assert.Equal((6, 0), (written, skipped));
        using var rec = RecordIoDataset.Open(prefix + ".rec");
        Assert.Equal((3, 6, "recordio"), (rec.IdentityCount, rec.Count, rec.Format));
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(folder.GetLabel(i), rec.GetLabel(i));
            Assert.Equal(folder.ReadEncoded(i), rec.ReadEncoded(i));
        }
        using var raw = new RecordIoReader(prefix);
        var header = raw.ReadImageRecord(0);
        Assert.Equal([7f, 10f], header.Labels); // images 1..6, identity records 7..9
        Assert.Equal([3f, 5f], raw.ReadImageRecord(8).Labels);
    }

    /// <summary>A packed 3 x 2 folder rewritten with <paramref name="edit"/> applied to each record (null drops it).</summary>
    private static string RepackedPack(string name, Func<long, ImageRecord, ImageRecord?> edit)
    {
        string root = MakeFolder(name, 3, 2);
        using (var folder = ImageFolderDataset.Open(root, cacheDirectory: root + "-cache")) DatasetPacker.Pack(folder, Path.Combine(root + "-out", "train"));
        string prefix = Path.Combine(root + "-edited", "train");
        using var raw = new RecordIoReader(Path.Combine(root + "-out", "train"));
        using var writer = new RecordIoWriter(prefix);
        foreach (long key in raw.Keys)
            if (edit(key, raw.ReadImageRecord(key)) is { } record) writer.Write(key, record.ToBytes());
        writer.Commit();
        return prefix;
    }

    [Theory]
    [InlineData(0, 7f, 1e9f, "record 0 (header): end key 1000000000 is not a whole number of at most 16777216")] // refused before anything is allocated
    [InlineData(0, 7f, 1e6f, "record 0 (header): claims 999993 identities, but")]
    [InlineData(0, 7f, float.NaN, "record 0 (header): end key NaN is not a whole number")]
    [InlineData(8, 3f, 1e6f, "record 8: image range [3, 1000000) is not within the image keys [1, 7)")]
    [InlineData(8, 5f, 2f, "record 8: image range [5, 2)")]
    [InlineData(8, 1f, 3f, "record 8: image range [1, 3) overlaps record 7's [1, 3)")]
    [InlineData(0, 7f, 11f, "record 10: identity record missing")]
    [InlineData(0, 0f, 10f, "record 0 (header): identity keys [0, 10) are not a range after the image keys")]
    public void RecordIoRangesAreCheckedAgainstTheIndex(long key, float start, float end, string expected)
    {
        string prefix = RepackedPack("ranges", (k, r) => k == key ? r with { Labels = [start, end] } : r);
        var e = Assert.Throws<InvalidDataException>(() => RecordIoDataset.Open(prefix));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(-3f, "label -3 is negative")]
    [InlineData(1e9f, "label 1000000000 is not a whole number of at most 16777216")]
    [InlineData(1.5f, "label 1.5 is not a whole number")]
    public void HeaderlessPackLabelsMustBeClassIds(float label, string expected)
    {
        // Without record 0 each image's own label is its class: a bad one used to crash training inside libtorch.
        string prefix = RepackedPack("flat", (k, r) => k == 0 || r.Labels.Length > 0 ? null : k == 3 ? r with { Header = r.Header with { Label = label } } : r);
        var e = Assert.Throws<InvalidDataException>(() => RecordIoDataset.Open(prefix));
        Assert.Contains("train.rec record 3", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void HeaderlessPackKeepingOriginalClassIdsGetsDenseClasses()
    {
        // A subset that keeps its source's class ids (here 3, 700 and 90,000) trains 3 classes, in id order.
        float[] ids = [700, 700, 90_000, 90_000, 3, 3];
        string prefix = RepackedPack("sparse", (k, r) => k == 0 || r.Labels.Length > 0 ? null : r with { Header = r.Header with { Label = ids[k - 1] } });
        using var pack = RecordIoDataset.Open(prefix);
        Assert.Equal(3, pack.IdentityCount);
        Assert.Equal([1, 1, 2, 2, 0, 0], Enumerable.Range(0, pack.Count).Select(pack.GetLabel));
    }

    [Fact]
    public void IndexWithARepeatedKeyOrOffsetIsRefused()
    {
        string prefix = RepackedPack("dup", (_, r) => r);
        string[] lines = File.ReadAllLines(prefix + ".idx");
        string offsetOfKey1 = lines.First(l => l.StartsWith("1\t", StringComparison.Ordinal)).Split('\t')[1];
        File.WriteAllLines(prefix + ".idx", [.. lines, $"5\t{offsetOfKey1}"]);
        Assert.Contains($"key 5 is indexed twice", Assert.Throws<InvalidDataException>(() => new RecordIoReader(prefix)).Message);
        File.WriteAllLines(prefix + ".idx", [.. lines, $"99\t{offsetOfKey1}"]);
        Assert.Contains($"keys 1 and 99 both point at offset {offsetOfKey1}", Assert.Throws<InvalidDataException>(() => new RecordIoReader(prefix)).Message);
    }

    [Fact]
    public void SkippedEmptyFolderThatGainsImagesIsRescanned()
    {
        string root = MakeFolder("gains", 2, 2);
        Directory.CreateDirectory(Path.Combine(root, "newcomer"));
        string cache = root + "-cache";
        using (var before = ImageFolderDataset.Open(root, skipEmpty: true, cacheDirectory: cache)) Assert.Equal(["newcomer"], before.SkippedFolders);
        Thread.Sleep(20);
        File.Copy(Path.Combine(root, "person0", "0.png"), Path.Combine(root, "newcomer", "0.png"));
        using var after = ImageFolderDataset.Open(root, skipEmpty: true, cacheDirectory: cache);
        Assert.Equal((3, 5), (after.IdentityCount, after.Count));
        Assert.Empty(after.SkippedFolders);
    }

    [Fact]
    public void MissingIdxIsNamed()
    {
        string dir = TestPaths.NewTempDirectory("noidx");
        File.WriteAllBytes(Path.Combine(dir, "train.rec"), [1, 2, 3]);
        var e = Assert.Throws<FileNotFoundException>(() => RecordIoDataset.Open(Path.Combine(dir, "train.rec")));
        Assert.Contains("train.idx", e.Message);
    }

    [Fact]
    public void TruncatedRecIsNamed()
    {
        string root = MakeFolder("trunc", 2, 2);
        using var folder = ImageFolderDataset.Open(root, cacheDirectory: root + "-cache");
        string prefix = Path.Combine(root + "-out", "train");
        DatasetPacker.Pack(folder, prefix);
        byte[] rec = File.ReadAllBytes(prefix + ".rec");
        File.WriteAllBytes(prefix + ".rec", rec[..(rec.Length / 3)]);
        var e = Assert.ThrowsAny<InvalidDataException>(() => { using var d = RecordIoDataset.Open(prefix); for (int i = 0; i < d.Count; i++) d.ReadEncoded(i); });
        Assert.Contains("train.rec record", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void BadMagicIsNamedWithRecordAndOffset()
    {
        string dir = TestPaths.NewTempDirectory("magic");
        string prefix = Path.Combine(dir, "train");
        using (var writer = new RecordIoWriter(prefix)) { writer.Write(1, new byte[40]); writer.Write(2, new byte[40]); writer.Commit(); }
        byte[] rec = File.ReadAllBytes(prefix + ".rec");
        rec[48] ^= 0xFF; // first byte of record 2's magic
        File.WriteAllBytes(prefix + ".rec", rec);
        // Opening checks the first, middle and last records, so the damage is reported before any training starts.
        var e = Assert.Throws<InvalidDataException>(() => new RecordIoReader(prefix));
        Assert.Contains("record 2", e.Message);
        Assert.Contains("magic", e.Message);
        Assert.Contains("byte 48", e.Message);
    }

    [Fact]
    public void PairsFileWithBadHeaderIsRejected()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("pairs"), "pairs.txt");
        File.WriteAllText(path, "ten folds\nA 1 2\n");
        var e = Assert.Throws<InvalidDataException>(() => LfwPairs.Read(path));
        Assert.Contains("pairs.txt:1", e.Message);
    }

    [Fact]
    public void TabSeparatedPairsMayNameIdentitiesWithSpaces()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("pairs-tabs"), "pairs.txt");
        File.WriteAllText(path, "1 1\nJosé Álvarez\t1\t2\r\nAnn Lee\t1\t José Álvarez \t3\n");
        var pairs = LfwPairs.Read(path);
        Assert.Equal(new VerificationPair("José Álvarez/José Álvarez_0001.jpg", "José Álvarez/José Álvarez_0002.jpg", true, 0), pairs[0]);
        Assert.Equal(new VerificationPair("Ann Lee/Ann Lee_0001.jpg", "José Álvarez/José Álvarez_0003.jpg", false, 0), pairs[1]);
        // A line mixing a space and a tab still reads as before.
        File.WriteAllText(path, "1 1\nA 1\t2\nA 1 B\t3\n");
        Assert.Equal(new VerificationPair("A/A_0001.jpg", "B/B_0003.jpg", false, 0), LfwPairs.Read(path)[1]);
        // Without tabs a space separates fields, and the error says how to name such people.
        File.WriteAllText(path, "1 1\nJosé Álvarez 1 2\nA 1 B 2\n");
        var e = Assert.Throws<InvalidDataException>(() => LfwPairs.Read(path));
        Assert.Contains("pairs.txt:2", e.Message);
        Assert.Contains("tab-separated", e.Message);
    }

    [Fact]
    public void PairsNamingAMissingImageAreReported()
    {
        string dir = TestPaths.NewTempDirectory("pairs");
        Directory.CreateDirectory(Path.Combine(dir, "images", "A"));
        File.WriteAllBytes(Path.Combine(dir, "images", "A", "A_0001.jpg"), [0]);
        File.WriteAllBytes(Path.Combine(dir, "images", "A", "A_0002.jpg"), [0]);
        string path = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(path, "1 1\nA 1 2\nA 1 B 3\n");
        var pairs = LfwPairs.Read(path);
        Assert.Equal(new VerificationPair("A/A_0001.jpg", "A/A_0002.jpg", true, 0), pairs[0]);
        Assert.False(pairs[1].IsSame);
        var e = Assert.Throws<FileNotFoundException>(() => LfwPairs.CheckImagesExist(pairs, Path.Combine(dir, "images"), path));
        Assert.Contains("B/B_0003.jpg", e.Message);
        Assert.Contains("pair 2", e.Message);
    }

    [Fact]
    public void FoldListsParse()
    {
        Assert.Equal([5, 6, 7, 8, 9], LfwPairs.ParseFolds("6-10"));
        Assert.Equal([0, 2], LfwPairs.ParseFolds("1,3"));
        Assert.Throws<ArgumentException>(() => LfwPairs.ParseFolds("0-3"));
    }

    [SharedFact("data/lfw/pairs.txt")]
    public void OfficialLfwPairsHaveTenIdentityDisjointFolds()
    {
        TestPaths.SharedOrSkipMessage("data/lfw/pairs.txt", out var path);
        var pairs = LfwPairs.Read(path!);
        Assert.Equal(6000, pairs.Count);
        Assert.Equal(3000, pairs.Count(p => p.IsSame));
        Assert.All(Enumerable.Range(0, 10), f => Assert.Equal(600, pairs.Count(p => p.Fold == f)));
        var people = pairs.GroupBy(p => p.Fold).Select(g => g.SelectMany(p => new[] { p.First, p.Second }).Select(s => s.Split('/')[0]).ToHashSet()).ToList();
        for (int a = 0; a < 10; a++) for (int b = a + 1; b < 10; b++) Assert.Empty(people[a].Intersect(people[b]));
        LfwPairs.CheckImagesExist(pairs, Path.Combine(Path.GetDirectoryName(path)!, "images"), path!);
    }

    [Fact]
    public void VerificationBinReadsPythonTwoAndThreePickles()
    {
        byte[] jpegA = ImageEncoder.EncodeJpeg(new RgbImage(4, 4)), jpegB = ImageEncoder.EncodePng(new RgbImage(4, 4));
        foreach (string writer in new[] { "python2", "python3", "python3-protocol2-codecs" })
        {
            // As pickle.dumps((images, issame), protocol=2) lays it out; the third image is a memo reference to the first.
            var p = new List<byte> { 0x80, 2, (byte)']', (byte)'q', 0, (byte)'(' };
            void Put(byte[] image)
            {
                switch (writer)
                {
                    case "python2": p.Add((byte)'T'); p.AddRange(BitConverter.GetBytes(image.Length)); p.AddRange(image); break;
                    case "python3": p.Add((byte)'B'); p.AddRange(BitConverter.GetBytes(image.Length)); p.AddRange(image); break;
                    default:
                        // Python 3 at protocol 2: _codecs.encode(image decoded as latin-1, 'latin1').
                        p.AddRange("c_codecs\nencode\n"u8.ToArray());
                        byte[] text = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.Latin1.GetString(image));
                        p.Add((byte)'X'); p.AddRange(BitConverter.GetBytes(text.Length)); p.AddRange(text);
                        p.Add((byte)'X'); p.AddRange(BitConverter.GetBytes(6)); p.AddRange("latin1"u8.ToArray());
                        p.AddRange([0x86, (byte)'R']);
                        break;
                }
            }
            Put(jpegA); p.AddRange([(byte)'q', 3]);
            Put(jpegB);
            p.AddRange([(byte)'h', 3]);
            Put(jpegB);
            p.AddRange([(byte)'e', (byte)']', (byte)'q', 1, (byte)'(', 0x88, 0x89, (byte)'e', 0x86, (byte)'q', 2, (byte)'.']);
            string path = Path.Combine(TestPaths.NewTempDirectory("bin"), "lfw.bin");
            File.WriteAllBytes(path, [.. p]);
            var bin = VerificationBin.Read(path, folds: 2);
            Assert.Equal(4, bin.Images.Count);
            Assert.Equal(jpegB, bin.Images[3]);
            Assert.Equal(jpegA, bin.Images[2]);
            Assert.Equal([true, false], bin.Pairs.Select(x => x.IsSame));
            // The repeated image is embedded once: its pair names the first index that holds it.
            Assert.Equal(("0", "3"), (bin.Pairs[1].First, bin.Pairs[1].Second));
            var few = Assert.Throws<InvalidDataException>(() => VerificationBin.Read(path));
            Assert.Contains("lfw.bin: 2 pairs; 10-fold verification needs at least 10", few.Message);
        }
    }

    [Fact]
    public void AModelSaysWhyACropDoesNotFit()
    {
        // Input 112x112 with the SphereFace template (96x112 crops): legitimate for crops given resized, not for aligned ones.
        var info = TestModels.Small with { Template = "sphereface-112x96" };
        Assert.Null(info.CropProblem(112, 112));
        Assert.Contains("as alignment to the model's template 'sphereface-112x96' makes it, but the model takes 112x112: give it crops resized", info.CropProblem(96, 112));
        Assert.Equal("the crop is 50x50; the model takes 112x112", info.CropProblem(50, 50));
    }

    [Fact]
    public void UnknownPickleOpcodeNamesOffset()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("bin"), "bad.bin");
        File.WriteAllBytes(path, [0x80, 2, 0xFE]);
        var e = Assert.Throws<InvalidDataException>(() => VerificationBin.Read(path));
        Assert.Contains("bad.bin", e.Message);
        Assert.Contains("0xfe at byte 2", e.Message);
    }

    [SharedFact("data/lfw/pairs.txt")]
    public void LfwTrainingSplitHoldsOutEveryTestFoldPerson()
    {
        TestPaths.SharedOrSkipMessage("data/lfw/pairs.txt", out var path);
        string images = Path.Combine(Path.GetDirectoryName(path)!, "images");
        var pairs = LfwPairs.Read(path!);
        var train = LfwSplit.TrainingIdentities(images, pairs, LfwPairs.ParseFolds("6-10"));
        Assert.Equal(3554, train.Count);
        Assert.Equal(6922, train.Sum(p => Directory.GetFiles(Path.Combine(images, p)).Length));
        var test = pairs.Where(p => p.Fold >= 5).SelectMany(p => new[] { p.First, p.Second }).Select(s => s.Split('/')[0]).ToHashSet();
        Assert.Empty(test.Intersect(train));
    }
}
