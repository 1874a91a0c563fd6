using FaceForge.Alignment;
using FaceForge.Models;
using static TorchSharp.torch;

namespace FaceForge.Training.Backbones;

/// <summary>The backbones FaceForge builds, by name, with each one's input geometry and normalisation.</summary>
public static class BackboneCatalog
{
    private sealed record Entry(string Name, Func<ModelInfo, nn.Module<Tensor, Tensor>> Create, ModelInfo Defaults);

    private static readonly Entry[] Entries =
    [
        new("mobilefacenet-casia", info => new MobileFaceNetCasia(info.EmbeddingSize),
            new ModelInfo { Architecture = "mobilefacenet-casia", InputWidth = 96, InputHeight = 112, Template = AlignmentTemplate.SphereFace112x96.Name, NormalizationMean = 127.5f, NormalizationStd = 128f, EmbeddingSize = 128 }),
        new("mobilefacenet", info => new MobileFaceNet(info.EmbeddingSize, Option(info, "width", 1)),
            Arc("mobilefacenet", 512)),
        new("vargfacenet", info => new VarGFaceNet(info.EmbeddingSize, Option(info, "width", 1)),
            Arc("vargfacenet", 512)),
        .. new[] { 18, 34, 50, 100 }.Select(depth => new Entry($"iresnet{depth}", info => new IResNet(depth, info.EmbeddingSize, Option(info, "width", 1)), Arc($"iresnet{depth}", 512))),
    ];

    /// <summary>The known architecture names.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Select(e => e.Name).ToArray();

    /// <summary>The default <see cref="ModelInfo"/> of <paramref name="architecture"/>.</summary>
    public static ModelInfo Defaults(string architecture) => Find(architecture).Defaults;

    /// <summary>Builds the network described by <paramref name="info"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(ModelInfo info) => Find(info.Architecture).Create(info);

    private static Entry Find(string name) =>
        Entries.FirstOrDefault(e => e.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown architecture '{name}'; known: {string.Join(", ", Entries.Select(e => e.Name))}.");

    private static ModelInfo Arc(string name, int embedding) => new()
    {
        Architecture = name, InputWidth = 112, InputHeight = 112, Template = AlignmentTemplate.ArcFace112.Name, EmbeddingSize = embedding,
    };

    private static double Option(ModelInfo info, string key, double fallback) => info.Options.TryGetValue(key, out double v) ? v : fallback;
}
