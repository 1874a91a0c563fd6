using System.Runtime.InteropServices;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Sets libtorch's C++ log threshold. libtorch without Python never reads TORCH_CPP_LOG_LEVEL, so its warnings,
/// which name its internals and give a FaceForge user nothing to act on, always print: on CPUs whose caches its
/// cpuinfo cannot read (seen on AMD EPYC virtual machines) every convolution's backend choice printed "Could not
/// initialize NNPACK! Reason: Unsupported hardware." (dozens of lines a command; libtorch then uses its other
/// kernels). The threshold is ERROR unless TORCH_CPP_LOG_LEVEL says otherwise (INFO, WARNING, ERROR, FATAL or 0-3).
/// </summary>
internal static class NativeLogLevel
{
    private const int Error = 2;

    /// <summary>The threshold applied, or null where libc10's flag could not be found (not Linux, another build).</summary>
    public static int? Applied { get; private set; }

    public static void Apply(string? nativeDirectory)
    {
        if (!OperatingSystem.IsLinux()) return;
        IntPtr library = IntPtr.Zero;
        bool found = (nativeDirectory is not null && NativeLibrary.TryLoad(Path.Combine(nativeDirectory, "libc10.so"), out library))
            || NativeLibrary.TryLoad("libc10.so", out library);
        if (!found || !NativeLibrary.TryGetExport(library, "FLAGS_caffe2_log_level", out var flag)) return;
        string? asked = Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL");
        int? parsed = Parse(asked);
        if (asked is not null && parsed is null)
            Console.Error.WriteLine($"TORCH_CPP_LOG_LEVEL='{asked}' is not INFO, WARNING, ERROR, FATAL or 0-3; libtorch logs at ERROR.");
        int level = parsed ?? Error;
        Marshal.WriteInt32(flag, level);
        Applied = level;
    }

    internal static int? Parse(string? value) => value?.Trim().ToUpperInvariant() switch
    {
        "0" or "INFO" => 0,
        "1" or "WARNING" => 1,
        "2" or "ERROR" => 2,
        "3" or "FATAL" => 3,
        _ => null,
    };
}
