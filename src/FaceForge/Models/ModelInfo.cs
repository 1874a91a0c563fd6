using FaceForge.Alignment;
using FaceForge.Input;

namespace FaceForge.Models;

/// <summary>What a FaceForge model file says about its network, so any consumer can prepare inputs correctly.</summary>
public sealed record ModelInfo
{
    /// <summary>Architecture name, e.g. "mobilefacenet-casia" or "vargfacenet".</summary>
    public required string Architecture { get; init; }

    /// <summary>What the network does: <see cref="RecognitionKind"/> (crops to embeddings) or <see cref="DetectionKind"/> (images to faces). <value>The default is recognition.</value></summary>
    public string Kind { get; init; } = RecognitionKind;

    /// <summary>The <see cref="Kind"/> of recognition models.</summary>
    public const string RecognitionKind = "recognition";

    /// <summary>The <see cref="Kind"/> of face detectors.</summary>
    public const string DetectionKind = "detection";

    /// <summary>Input width in pixels.</summary>
    public required int InputWidth { get; init; }

    /// <summary>Input height in pixels.</summary>
    public required int InputHeight { get; init; }

    /// <summary>Alignment template name (see <see cref="AlignmentTemplate.FromName"/>).</summary>
    public required string Template { get; init; }

    /// <summary>Pixel normalisation mean.</summary>
    public float NormalizationMean { get; init; } = 127.5f;

    /// <summary>Pixel normalisation divisor.</summary>
    public float NormalizationStd { get; init; } = 127.5f;

    /// <summary>Embedding length.</summary>
    public required int EmbeddingSize { get; init; }

    /// <summary>Architecture options (e.g. width multiplier), as the factory reads them.</summary>
    public Dictionary<string, double> Options { get; init; } = [];

    /// <summary>Cosine threshold calibrated on a verification set, if any.</summary>
    public double? Threshold { get; init; }

    /// <summary>Free-form provenance (source checkpoint, training run).</summary>
    public string? Source { get; init; }

    /// <summary>The normalisation as a value.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public PixelNormalization Normalization => new(NormalizationMean, NormalizationStd);

    /// <summary>The alignment template.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public AlignmentTemplate AlignmentTemplate => AlignmentTemplate.FromName(Template);
}
