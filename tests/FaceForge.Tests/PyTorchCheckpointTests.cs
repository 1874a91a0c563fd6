using System.IO.Compression;
using System.Text;
using FaceForge.Formats.PyTorch;
using Xunit;

namespace FaceForge.Tests;

public class PyTorchCheckpointTests
{
    /// <summary>Writes the pickle opcodes torch.save emits for {name: tensor} with one float storage per tensor.</summary>
    private static byte[] StateDictPickle(IReadOnlyList<(string Name, string Key, long[] Shape, long[] Stride, long Offset, long Elements)> tensors)
    {
        var p = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); p.Add((byte)'X'); p.AddRange(BitConverter.GetBytes(b.Length)); p.AddRange(b); }
        void Int(long v) { p.Add((byte)'J'); p.AddRange(BitConverter.GetBytes((int)v)); }
        void Global(string module, string name) { p.Add((byte)'c'); p.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); }
        void Tuple(IEnumerable<long> values) { p.Add((byte)'('); foreach (long v in values) Int(v); p.Add((byte)'t'); }
        foreach (var t in tensors)
        {
            Str(t.Name);
            Global("torch._utils", "_rebuild_tensor_v2");
            p.Add((byte)'(');
            p.Add((byte)'('); Str("storage"); Global("torch", "FloatStorage"); Str(t.Key); Str("cpu"); Int(t.Elements); p.Add((byte)'t'); p.Add((byte)'Q');
            Int(t.Offset); Tuple(t.Shape); Tuple(t.Stride); p.Add(0x89); Global("collections", "OrderedDict"); p.Add((byte)')'); p.Add((byte)'R');
            p.Add((byte)'t'); p.Add((byte)'R');
        }
        p.AddRange([(byte)'u', (byte)'.']);
        return [.. p];
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
