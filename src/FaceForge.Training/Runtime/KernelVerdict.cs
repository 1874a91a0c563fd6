using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Remembers, per machine, that oneDNN's AVX-512 kernels computed channels-last convolutions wrong here
/// (<see cref="ChannelsLast"/>), so that later processes limit oneDNN to AVX2 before libtorch starts: oneDNN reads
/// ONEDNN_MAX_CPU_ISA once, at its first kernel, so the process that found the fault cannot switch and runs NCHW.
/// On the Zen 5 virtual machine where the fault was found, AVX2 kernels were exact and 3x faster than the AVX-512 ones
/// (LFW folds 6-10 with the CASIA MobileFaceNet: 33 s against 104 s channels-last and 296 s NCHW).
/// The verdict lives in $XDG_CACHE_HOME/faceforge/kernels (or ~/.cache/faceforge/kernels), keyed by the processor's
/// model, flags and the libtorch build; a set ONEDNN_MAX_CPU_ISA or FACEFORGE_CHANNELS_LAST is left alone.
/// </summary>
internal static partial class KernelVerdict
{
    private const string Avx2 = "AVX2";

    /// <summary>Whether this process limited oneDNN to AVX2 because of an earlier verdict.</summary>
    public static bool LimitedToAvx2 { get; private set; }

    /// <summary>Before libtorch loads: applies a recorded verdict for this machine.</summary>
    public static void ApplyBeforeLoad(string? cacheDirectory = null)
    {
        if (!OperatingSystem.IsLinux() || UserChose()) return;
        try
        {
            string path = PathFor(cacheDirectory); // hashes /proc/cpuinfo: once per start
            if (File.Exists(path) && File.ReadAllText(path).Trim() == Avx2 && SetEnv("ONEDNN_MAX_CPU_ISA", Avx2, 1) == 0)
                LimitedToAvx2 = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            // No readable verdict, or no libc: the start-up check decides alone.
        }
    }

    /// <summary>After the layout check failed with oneDNN's full instruction set: later processes take AVX2.</summary>
    public static void RecordChannelsLastFault(string? cacheDirectory = null)
    {
        if (!OperatingSystem.IsLinux() || UserChose() || LimitedToAvx2) return;
        try { AtomicFile.WriteAllText(PathFor(cacheDirectory), Avx2 + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only home: every process then finds the fault itself and runs NCHW, slower but right.
        }
    }

    private static bool UserChose() =>
        Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") is not null || Environment.GetEnvironmentVariable("FACEFORGE_CHANNELS_LAST") is not null;

    internal static string PathFor(string? cacheDirectory)
    {
        string directory = cacheDirectory ?? UserCache.Folder("kernels");
        return Path.Combine(directory, MachineKey() + ".txt");
    }

    /// <summary>The first processor's description in /proc/cpuinfo (model, family, flags…) and the libtorch build, hashed.</summary>
    internal static string MachineKey()
    {
        var text = new StringBuilder(typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString());
        if (File.Exists("/proc/cpuinfo"))
            foreach (var line in File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0))
                if (line.Split(':')[0].Trim() is "vendor_id" or "cpu family" or "model" or "model name" or "stepping" or "flags") text.Append('\n').Append(line);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
