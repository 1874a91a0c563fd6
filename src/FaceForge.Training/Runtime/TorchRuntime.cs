using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace FaceForge.Training.Runtime;

/// <summary>
/// Loads libtorch through TorchSharp once, and turns a loader failure into one readable line naming the library
/// and the missing symbol version (for example GLIBCXX_3.4.32 on Debian 12 when the build-time patch was skipped).
/// </summary>
/// <remarks>Thread-safe; the first call does the work.</remarks>
public static partial class TorchRuntime
{
    private static readonly Lazy<string?> Failure = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Throws <see cref="TorchUnavailableException"/> with a one-line reason if libtorch cannot be used.</summary>
    public static void EnsureLoaded()
    {
        if (Failure.Value is { } reason) throw new TorchUnavailableException(reason);
    }

    private static string? Probe()
    {
        AllocatorTuning.Apply();
        KernelVerdict.ApplyBeforeLoad();
        // Load our copy of libLibTorchSharp first: dlopen's message then names the exact library and version.
        string directory = AppContext.BaseDirectory;
        string? native = Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault()
            : null;
        if (native is not null && !NativeLibrary.TryLoad(native, out _))
        {
            try { NativeLibrary.Load(native); }
            catch (DllNotFoundException e) { return Describe(e.Message, native); }
        }
        try
        {
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
            NativeLogLevel.Apply(native is null ? null : Path.GetDirectoryName(native));
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or TypeInitializationException or EntryPointNotFoundException)
        {
            return Describe((e.InnerException ?? e).Message, native ?? "libtorch");
        }
    }

    internal static string Describe(string loaderMessage, string library)
    {
        var version = VersionNotFound().Match(loaderMessage);
        if (version.Success)
            return $"libtorch cannot load: {version.Groups["lib"].Value} lacks symbol version {version.Groups["ver"].Value} required by {Path.GetFileName(version.Groups["by"].Value)} ({version.Groups["by"].Value}); the FaceForge.Training package's build step marks that version weak in the build output: reference FaceForge.Training in the project that runs (a PackageReference brings its buildTransitive step), rebuild it, or install a newer libstdc++.";
        string firstLine = loaderMessage.Split('\n', 2)[0].Trim();
        return $"libtorch cannot load from {library}: {firstLine}";
    }

    [GeneratedRegex(@"(?<lib>\S+): version `(?<ver>[^']+)' not found \(required by (?<by>[^)]+)\)")]
    private static partial Regex VersionNotFound();
}

/// <summary>libtorch could not be loaded; the message is one line saying why.</summary>
public sealed class TorchUnavailableException(string message) : Exception(message);
