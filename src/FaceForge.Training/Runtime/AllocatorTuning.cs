using System.Runtime.InteropServices;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Tunes glibc's malloc for libtorch's pattern of large, short-lived tensors: by default glibc serves each one with
/// a fresh mmap and returns it at free, so every training step page-faults its activations in again (seen as high
/// system time). A 32 MB mmap threshold (glibc's maximum), a 512 MB top pad and no trimming keep freed memory in the
/// heap for the next step. Measured +15-25 % training throughput on this 2-core machine (docs/benchmarks.md).
/// Set FACEFORGE_MALLOC_TUNING=0 to leave malloc alone.
/// </summary>
internal static partial class AllocatorTuning
{
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;

    /// <summary>Whether the tuning was applied.</summary>
    public static bool Applied { get; private set; }

    public static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("FACEFORGE_MALLOC_TUNING") == "0") return;
        try
        {
            Applied = MallOpt(MmapThreshold, 32 << 20) == 1 & MallOpt(TopPad, 512 << 20) == 1 & MallOpt(TrimThreshold, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): nothing to tune.
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
