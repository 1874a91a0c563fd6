using System.IO.Compression;
using System.Text;
using FaceForge.Formats.PyTorch;
using Xunit;

namespace FaceForge.Tests;

public class PyTorchCheckpointTests
{
    /// <summary>Writes the pickle opcodes torch.save emits for {name: tensor} with one float storage per tensor.</summary>
    private static byte[] StateDictPickle(IReadOnlyList<(string Name, string Key, long[] Shape, long[] Stride, long Offset, long Elements)> tensors) =>
        RawStateDictPickle(tensors.Select(t => (t.Name, t.Key, (object)t.Offset, t.Shape.Cast<object>().ToArray(), t.Stride.Cast<object>().ToArray(), t.Elements, (long[]?)null)).ToList());

    /// <summary>As <see cref="StateDictPickle"/>, with offset, shape and stride items of any pickled type (long, string, double).</summary>
    /// <remarks>View, when given, is a legacy storage view (offset, elements) inside the storage Key.</remarks>
    private static byte[] RawStateDictPickle(IReadOnlyList<(string Name, string Key, object Offset, object[] Shape, object[] Stride, long Elements, long[]? View)> tensors)
    {
        var p = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); p.Add((byte)'X'); p.AddRange(BitConverter.GetBytes(b.Length)); p.AddRange(b); }
        void Int(long v)
        {
            if (v is >= int.MinValue and <= int.MaxValue) { p.Add((byte)'J'); p.AddRange(BitConverter.GetBytes((int)v)); }
            else { p.Add(0x8a); p.Add(8); p.AddRange(BitConverter.GetBytes(v)); } // LONG1
        }
        void Value(object v)
        {
            switch (v)
            {
                case long l: Int(l); break;
                case int i: Int(i); break;
                case string s: Str(s); break;
                case double d: p.Add((byte)'G'); p.AddRange(BitConverter.GetBytes(d).Reverse()); break;
            }
        }
        void Global(string module, string name) { p.Add((byte)'c'); p.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); }
        void Tuple(IEnumerable<object> values) { p.Add((byte)'('); foreach (var v in values) Value(v); p.Add((byte)'t'); }
        foreach (var t in tensors)
        {
            Str(t.Name);
            Global("torch._utils", "_rebuild_tensor_v2");
            p.Add((byte)'(');
            p.Add((byte)'('); Str("storage"); Global("torch", "FloatStorage"); Str(t.Key); Str("cpu"); Int(t.Elements);
            if (t.View is { } view) { p.Add((byte)'('); Str("view-" + t.Key); Int(view[0]); Int(view[1]); p.Add((byte)'t'); }
            p.Add((byte)'t'); p.Add((byte)'Q');
            Value(t.Offset); Tuple(t.Shape); Tuple(t.Stride); p.Add(0x89); Global("collections", "OrderedDict"); p.Add((byte)')'); p.Add((byte)'R');
            p.Add((byte)'t'); p.Add((byte)'R');
        }
        p.AddRange([(byte)'u', (byte)'.']);
        return [.. p];
    }

    /// <summary>A torch.save-style zip of <paramref name="pickle"/> and storage "0" (stored, as PyTorch writes it).</summary>
    private static string Zip(byte[] pickle, byte[] storage, string name = "model.pt")
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("ckpt"), name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using (var s = zip.CreateEntry("model/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
        using (var s = zip.CreateEntry("model/data/0", CompressionLevel.NoCompression).Open()) s.Write(storage);
        return path;
    }

    private static readonly byte[] SixFloats = Enumerable.Range(0, 6).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray();

    public static TheoryData<string, string> HostileTensorRecords => new()
    {
        // A stride whose reach overflows 64 bits used to wrap around inside the storage: a model of copied channels.
        { "stride-overflow", "tensor 'w': shape [2, 3] with stride (4611686018427387904, 4611686018427387904) at offset 0 is impossibly large" },
        { "stride-far", "tensor 'w': the view (offset 0, shape [2, 3], stride (4611686018427387904, 1)) reaches element 4611686018427387906 of a storage of 6" },
        { "stride-past-storage", "tensor 'w': the view (offset 0, shape [2, 3], stride (4, 1)) reaches element 6 of a storage of 6" },
        { "offset-negative", "tensor 'w': negative offset" },
        { "offset-string", "tensor 'w': its storage offset is the string 'zero', not a whole number" },
        { "shape-float", "tensor 'w': its shape is the float 2.5, not a whole number" },
        { "rank-mismatch", "tensor 'w': shape [2, 3] and stride (1) differ in rank" },
        { "elements-mismatch", "storage 'model/data/0' holds 24 bytes; its tensors' record says 7 elements of 4 bytes" },
    };

    [Theory]
    [MemberData(nameof(HostileTensorRecords))]
    public void HostileTensorRecordsAreRefusedNamingFileAndTensor(string fault, string message)
    {
        object offset = fault switch { "offset-negative" => -1L, "offset-string" => "zero", _ => 0L };
        object[] shape = fault == "shape-float" ? [2.5, 3L] : [2L, 3L];
        object[] stride = fault switch { "stride-overflow" => [1L << 62, 1L << 62], "stride-far" => [1L << 62, 1L], "stride-past-storage" => [4L, 1L], "rank-mismatch" => [1L], _ => [3L, 1L] };
        string path = Zip(RawStateDictPickle([("w", "0", offset, shape, stride, fault == "elements-mismatch" ? 7 : 6, null)]), SixFloats, $"{fault}.pt");
        var e = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(message, e.Message);
    }

    /// <summary>A legacy (pre-1.6) torch.save file: magic, protocol, system info, <paramref name="root"/>, the key list, then each storage.</summary>
    private static string Legacy(byte[] root, IReadOnlyList<(string Key, long Count, byte[] Data)> storages, bool littleEndian = true, string name = "legacy.ckpt")
    {
        var f = new List<byte>();
        byte[] magic = Convert.FromHexString("1950a86a20f9469cfc6c").Reverse().ToArray();
        f.AddRange([0x80, 2, 0x8a, (byte)magic.Length, .. magic, (byte)'.']);
        f.AddRange([0x80, 2, (byte)'M', .. BitConverter.GetBytes((ushort)1001), (byte)'.']);
        f.AddRange([0x80, 2, (byte)'}', (byte)'(', (byte)'X', .. BitConverter.GetBytes(13), .. "little_endian"u8.ToArray(), littleEndian ? (byte)0x88 : (byte)0x89, (byte)'u', (byte)'.']);
        f.AddRange(root);
        f.AddRange([0x80, 2, (byte)']', (byte)'(']);
        foreach (var (key, _, _) in storages) f.AddRange([(byte)'X', .. BitConverter.GetBytes(key.Length), .. Encoding.ASCII.GetBytes(key)]);
        f.AddRange([(byte)'e', (byte)'.']);
        foreach (var (_, count, data) in storages) f.AddRange([.. BitConverter.GetBytes(count), .. data]);
        string path = Path.Combine(TestPaths.NewTempDirectory("ckpt"), name);
        File.WriteAllBytes(path, [.. f]);
        return path;
    }

    [Fact]
    public void LegacyCheckpointsLoadScalarsEmptyBroadcastAndViewTensors()
    {
        // Storage 0 holds 0..5; "s" a 0-d scalar, "e" an empty view pointing past the end (PyTorch allows it), "z" a
        // zero-stride broadcast, "v" a 2-element legacy storage view starting at element 3, "t" a transposed view.
        var root = RawStateDictPickle([
            ("s", "0", 2L, [], [], 6, null), ("e", "0", 100L, [0L], [1L], 6, null), ("z", "0", 1L, [3L], [0L], 6, null),
            ("v", "0", 0L, [2L], [1L], 6, [3, 2]), ("t", "0", 0L, [3L, 2L], [1L, 3L], 6, null)]);
        var state = PyTorchCheckpoint.LoadStateDict(Legacy(root, [("0", 6, SixFloats)]));
        Assert.Equal([2f], state["s"].ToFloats());
        Assert.Empty(state["s"].Shape);
        Assert.Empty(state["e"].ToFloats());
        Assert.Equal([1f, 1, 1], state["z"].ToFloats());
        Assert.Equal([3f, 4], state["v"].ToFloats());
        Assert.Equal([0f, 3, 1, 4, 2, 5], state["t"].ToFloats());

        var one = RawStateDictPickle([("w", "0", 0L, [6L], [1L], 6, null)]);
        (string Path, string Message)[] bad =
        [
            (Legacy(one, [("0", 5, SixFloats[..20])]), "storage '0' holds 5 elements; its tensors' record says 6"),
            (Legacy(one, [("0", 6, SixFloats), ("0", 6, SixFloats)]), "storage '0' is listed twice"),
            (Legacy(one, [("0", 6, SixFloats), ("7", 6, SixFloats)]), "storage '7' is listed but no tensor refers to it"),
            (Legacy(one, [("0", 6, SixFloats)], littleEndian: false), "a big-endian checkpoint"),
            (Legacy(RawStateDictPickle([("w", "0", 0L, [2L], [1L], 6, [5, 2])]), [("0", 6, SixFloats)]), "storage view"),
        ];
        foreach (var (path, message) in bad)
            Assert.Contains(message, Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(path)).Message);
        // Cut exactly after the key list: the first storage's count is missing.
        string whole = Legacy(one, [("0", 6, SixFloats)], name: "cut.ckpt");
        File.WriteAllBytes(whole, File.ReadAllBytes(whole)[..^(8 + SixFloats.Length)]);
        Assert.Contains("ends before its last storage", Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(whole)).Message);
    }

    [Fact]
    public void DeepCyclicHugeOrDamagedPicklesAreRefusedNotCrashed()
    {
        // 100,000 nested lists (a stack overflow took the process down before), and a list that holds itself.
        var deep = new List<byte> { 0x80, 2 };
        deep.AddRange(Enumerable.Repeat((byte)']', 100_000));
        deep.AddRange(Enumerable.Repeat((byte)'a', 99_999));
        deep.Add((byte)'.');
        foreach (var pickle in new[] { deep.ToArray(), [0x80, 2, (byte)']', (byte)'q', 0, (byte)'h', 0, (byte)'a', (byte)'.'] })
        {
            var e = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(Zip(pickle, SixFloats)));
            Assert.Contains("nest deeper than 1000 levels (or refer to themselves)", e.Message);
        }

        // A dict key wrapped in a million persistent ids used to overflow the stack while hashing it.
        byte[] idChain = [0x80, 2, (byte)'}', (byte)'N', .. Enumerable.Repeat((byte)'Q', 1_000_000), (byte)'N', (byte)'s', (byte)'.'];
        Assert.Contains("no state dict", Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(Zip(idChain, SixFloats))).Message);

        // A string claiming 2^40 bytes is refused before allocation, naming the entry and the opcode.
        byte[] huge = [0x80, 2, 0x8e, .. BitConverter.GetBytes(1L << 40), (byte)'.'];
        var h = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(Zip(huge, SixFloats)));
        Assert.Contains("(model/data.pkl): a value claims 1099511627776 bytes, but only 1 follow", h.Message);
        Assert.Contains("opcode 0x8e at byte 2", h.Message);

        // One flipped byte in a storage: its CRC-32 no longer matches (PyTorch stores entries uncompressed).
        string good = Zip(StateDictPickle([("w", "0", [2, 3], [3, 1], 0, 6)]), SixFloats, "flipped.pt");
        var bytes = File.ReadAllBytes(good);
        int at = bytes.AsSpan().IndexOf(SixFloats.AsSpan(4, 8));
        bytes[at] ^= 0x40;
        File.WriteAllBytes(good, bytes);
        Assert.Contains("entry 'model/data/0' fails its CRC-32 check", Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(good)).Message);

        // A zip whose directory is damaged names the file, not only the zip library's words.
        string cut = Zip(StateDictPickle([("w", "0", [2, 3], [3, 1], 0, 6)]), SixFloats, "cut.pt");
        File.WriteAllBytes(cut, File.ReadAllBytes(cut)[..^30]);
        var c = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(cut));
        Assert.StartsWith($"{cut}: not a readable zip archive", c.Message);
    }

    [Fact]
    public void ZipCheckpointLoadsStridedViews()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("ckpt"), "model.pt");
        // Storage 0 holds 0..5; "w" is a 2x3 view, "t" the transpose of it (strides 1, 3), "b" a slice at offset 4.
        var storage = Enumerable.Range(0, 6).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray();
        var pickle = StateDictPickle([("w", "0", [2, 3], [3, 1], 0, 6), ("t", "0", [3, 2], [1, 3], 0, 6), ("b", "0", [2], [1], 4, 6)]);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("model/data.pkl").Open()) s.Write(pickle);
            using (var s = zip.CreateEntry("model/data/0").Open()) s.Write(storage);
        }
        var state = PyTorchCheckpoint.LoadStateDict(path);
        Assert.Equal([0f, 1, 2, 3, 4, 5], state["w"].ToFloats());
        Assert.Equal([0f, 3, 1, 4, 2, 5], state["t"].ToFloats());
        Assert.Equal(new long[] { 3, 2 }, state["t"].Shape);
        Assert.Equal([4f, 5], state["b"].ToFloats());
    }

    [Fact]
    public void NonCheckpointIsNamed()
    {
        string path = Path.Combine(TestPaths.NewTempDirectory("ckpt"), "notes.pth");
        File.WriteAllText(path, "not a checkpoint");
        Assert.Contains("notes.pth", Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(path)).Message);
    }

    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void TruncatedLegacyCheckpointIsNamed()
    {
        TestPaths.SharedOrSkipMessage("models/mobilefacenet-casia/068.ckpt", out var source);
        string path = Path.Combine(TestPaths.NewTempDirectory("ckpt"), "cut.ckpt");
        var bytes = File.ReadAllBytes(source!);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.LoadStateDict(path));
        Assert.Contains("cut.ckpt", e.Message);
    }
}
