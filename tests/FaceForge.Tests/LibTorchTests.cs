using FaceForge.Build;
using FaceForge.Training.Runtime;
using TorchSharp;
using Xunit;

namespace FaceForge.Tests;

public class LibTorchTests
{
    [Fact]
    public void BuildOutputLibraryIsPatchedAndLoads()
    {
        var libraries = Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(libraries);
        foreach (string library in libraries)
        {
            var copy = File.ReadAllBytes(library);
            // The build already set the flag, so a second pass must find it weak and change nothing.
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionNeedPatcher.MarkWeak(copy, "GLIBCXX_3.4.32", library));
            Assert.Equal(File.ReadAllBytes(library), copy);
        }
        TorchRuntime.EnsureLoaded();
        // glibc on this machine: loading libtorch also tunes malloc (unless FACEFORGE_MALLOC_TUNING=0).
        Assert.Equal(Environment.GetEnvironmentVariable("FACEFORGE_MALLOC_TUNING") != "0", AllocatorTuning.Applied);
    }

    [Fact]
    public void LoadingLibTorchSetsItsCppLogThreshold()
    {
        Assert.Equal(0, NativeLogLevel.Parse("info"));
        Assert.Equal(1, NativeLogLevel.Parse(" WARNING "));
        Assert.Equal(3, NativeLogLevel.Parse("3"));
        Assert.Null(NativeLogLevel.Parse("loud"));
        Assert.Null(NativeLogLevel.Parse(null));
        TorchRuntime.EnsureLoaded();
        if (!OperatingSystem.IsLinux()) return;
        // libtorch reads TORCH_CPP_LOG_LEVEL only from Python; FaceForge applies it, ERROR when unset or unreadable.
        int expected = NativeLogLevel.Parse(Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL")) ?? 2;
        Assert.Equal(expected, NativeLogLevel.Applied);
        Assert.True(System.Runtime.InteropServices.NativeLibrary.TryLoad("libc10.so", out var c10));
        var flag = System.Runtime.InteropServices.NativeLibrary.GetExport(c10, "FLAGS_caffe2_log_level");
        Assert.Equal(expected, System.Runtime.InteropServices.Marshal.ReadInt32(flag));
    }

    [Fact]
    public void PatcherFlipsOnlyTheNamedEntryAndIsIdempotent()
    {
        byte[] elf = MinimalElf.WithVersionNeeds("GLIBCXX_3.4.30", "GLIBCXX_3.4.32");
        Assert.Equal(0, MinimalElf.Flags(elf, 1));
        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionNeedPatcher.MarkWeak(elf, "GLIBCXX_3.4.32", "test.so"));
        Assert.Equal(2, MinimalElf.Flags(elf, 1));
        Assert.Equal(0, MinimalElf.Flags(elf, 0));
        var after = (byte[])elf.Clone();
        Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionNeedPatcher.MarkWeak(elf, "GLIBCXX_3.4.32", "test.so"));
        Assert.Equal(after, elf);
        Assert.Equal(ElfPatchOutcome.EntryAbsent, ElfVersionNeedPatcher.MarkWeak(elf, "GLIBCXX_9.9", "test.so"));
    }

    [Fact]
    public void PatcherRewritesFileThroughRename()
    {
        string dir = TestPaths.NewTempDirectory("elf");
        string path = Path.Combine(dir, "lib.so");
        File.WriteAllBytes(path, MinimalElf.WithVersionNeeds("GLIBCXX_3.4.32"));
        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionNeedPatcher.MarkWeak(path, "GLIBCXX_3.4.32"));
        Assert.Equal(2, MinimalElf.Flags(File.ReadAllBytes(path), 0));
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void PatcherRejectsNonElf()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeedPatcher.MarkWeak("not an elf file at all, just text........................................"u8.ToArray(), "X", "bad.so"));
        Assert.Contains("bad.so", e.Message);
    }

    [Fact]
    public void LoaderFailureBecomesOneReadableLine()
    {
        string message = TorchRuntime.Describe("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /app/runtimes/linux-x64/native/libLibTorchSharp.so)\nmore", "x");
        Assert.DoesNotContain('\n', message);
        Assert.Contains("GLIBCXX_3.4.32", message);
        Assert.Contains("libLibTorchSharp.so", message);
        Assert.Contains("libstdc++.so.6", message);
    }

    [Fact]
    public void ConvolutionRunsForwardAndBackward()
    {
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(1);
        using var scope = torch.NewDisposeScope();
        var conv = torch.nn.Conv2d(3, 4, 3, padding: 1);
        var x = torch.randn([2, 3, 8, 8], requires_grad: true);
        var y = conv.call(x);
        Assert.Equal(new long[] { 2, 4, 8, 8 }, y.shape);
        y.sum().backward();
        Assert.NotNull(x.grad);
        Assert.Equal(x.shape, x.grad!.shape);
        // d(sum)/d(bias) is the number of output positions per channel.
        var biasGrad = conv.bias!.grad!;
        Assert.All(biasGrad.data<float>().ToArray(), g => Assert.Equal(2 * 8 * 8, g, 3));
    }
}

/// <summary>Builds a tiny ELF64 image holding only a section table, a .dynstr and a .gnu.version_r.</summary>
internal static class MinimalElf
{
    private const int Header = 64, SectionSize = 64;

    public static byte[] WithVersionNeeds(params string[] versions)
    {
        var strings = new List<byte> { 0 };
        var names = new List<int>();
        int file = strings.Count; strings.AddRange("libstdc++.so.6\0"u8.ToArray());
        foreach (var v in versions) { names.Add(strings.Count); strings.AddRange(System.Text.Encoding.ASCII.GetBytes(v + "\0")); }
        int stringsOffset = Header, verneedOffset = Header + strings.Count + (8 - strings.Count % 8) % 8;
        int verneedSize = 16 + 16 * versions.Length;
        int sectionTable = verneedOffset + verneedSize;
        var b = new byte[sectionTable + 3 * SectionSize];
        b[0] = 0x7f; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F'; b[4] = 2; b[5] = 1; b[6] = 1;
        W64(b, 0x28, sectionTable); W16(b, 0x3A, SectionSize); W16(b, 0x3C, 3); W16(b, 0x3E, 0);
        strings.CopyTo(b, stringsOffset);
        // Verneed: version 1, count, file name, aux at +16, no next.
        W16(b, verneedOffset, 1); W16(b, verneedOffset + 2, versions.Length); W32(b, verneedOffset + 4, file); W32(b, verneedOffset + 8, 16); W32(b, verneedOffset + 12, 0);
        for (int i = 0; i < versions.Length; i++)
        {
            int aux = verneedOffset + 16 + 16 * i;
            W32(b, aux, 0x1234 + i); W16(b, aux + 4, 0); W16(b, aux + 6, 2 + i); W32(b, aux + 8, names[i]); W32(b, aux + 12, i + 1 < versions.Length ? 16 : 0);
        }
        int dynstr = sectionTable + SectionSize, verneed = sectionTable + 2 * SectionSize;
        W32(b, dynstr + 4, 3); W64(b, dynstr + 24, stringsOffset); W64(b, dynstr + 32, strings.Count);
        W32(b, verneed + 4, 0x6ffffffe); W64(b, verneed + 24, verneedOffset); W64(b, verneed + 32, verneedSize); W32(b, verneed + 40, 1); W32(b, verneed + 44, 1);
        return b;
    }

    public static int Flags(byte[] elf, int entry)
    {
        int sectionTable = (int)BitConverter.ToInt64(elf, 0x28);
        int verneedOffset = (int)BitConverter.ToInt64(elf, sectionTable + 2 * SectionSize + 24);
        return BitConverter.ToUInt16(elf, verneedOffset + 16 + 16 * entry + 4);
    }

    private static void W16(byte[] b, int o, int v) => BitConverter.TryWriteBytes(b.AsSpan(o), (ushort)v);
    private static void W32(byte[] b, int o, int v) => BitConverter.TryWriteBytes(b.AsSpan(o), v);
    private static void W64(byte[] b, int o, long v) => BitConverter.TryWriteBytes(b.AsSpan(o), v);
}
