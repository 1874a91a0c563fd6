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

    /// <summary>
    /// The quality the model carries: <see cref="QualityKind.Magnitude"/> for MagFace-trained networks,
    /// <see cref="QualityKind.Uncertainty"/> when the file holds a Probabilistic Face Embeddings head (its weights
    /// under "uncertainty."). <value>None by default (files written before quality existed read as none).</value>
    /// </summary>
    public QualityKind Quality { get; init; }

    /// <summary>Cosine threshold calibrated on a verification set, if any.</summary>
    public double? Threshold { get; init; }

    /// <summary>The flip test the threshold was calibrated with (None, Add or Concatenate): scores made otherwise are not comparable with it.</summary>
    public string? ThresholdFlip { get; init; }

    /// <summary>Free-form provenance (source checkpoint, training run).</summary>
    public string? Source { get; init; }

    /// <summary>The normalisation as a value.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public PixelNormalization Normalization => new(NormalizationMean, NormalizationStd);

    /// <summary>The alignment template.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public AlignmentTemplate AlignmentTemplate => AlignmentTemplate.FromName(Template);

    /// <summary>
    /// The template whose crop is exactly this model's input, or null (a model that takes crops resized to another
    /// size, or a template name no known template has): where aligned crops of another known template can be reframed.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public AlignmentTemplate? InputTemplate =>
        AlignmentTemplate.All.FirstOrDefault(t => t.Name.Equals(Template, StringComparison.OrdinalIgnoreCase) && t.Width == InputWidth && t.Height == InputHeight);

    /// <summary>Why a crop of <paramref name="width"/> x <paramref name="height"/> cannot be embedded by this model, or null.</summary>
    public string? CropProblem(int width, int height)
    {
        if (width == InputWidth && height == InputHeight) return null;
        var template = AlignmentTemplate;
        return template.Width == width && template.Height == height
            ? $"the crop is {width}x{height}, as alignment to the model's template '{Template}' makes it, but the model takes {InputWidth}x{InputHeight}: give it crops resized to its input instead (the CLI's --aligned)"
            : $"the crop is {width}x{height}; the model takes {InputWidth}x{InputHeight}";
    }

    /// <summary>Why this description cannot be a usable model, or null: sizes, normalisation, kind and template checked against sane ranges.</summary>
    public string? Problem()
    {
        if (Kind is not (RecognitionKind or DetectionKind)) return $"kind '{Kind}' is neither {RecognitionKind} nor {DetectionKind}";
        if (InputWidth is < 8 or > 4096 || InputHeight is < 8 or > 4096) return $"input size {InputWidth}x{InputHeight} is outside 8..4096";
        if (!float.IsFinite(NormalizationMean) || !float.IsFinite(NormalizationStd) || NormalizationStd <= 0)
            return $"normalisation mean {NormalizationMean}, std {NormalizationStd}: the std must be positive and both finite";
        if (Options.TryGetValue("width", out double width) && !(width > 0 && width <= 16)) return $"width multiplier {width} is outside (0, 16]";
        if (Threshold is double t && !(t >= -1 && t <= 1)) return $"threshold {t} is not a cosine in [-1, 1]";
        if (!Enum.IsDefined(Quality)) return $"quality kind {(int)Quality} is unknown";
        if (Kind == DetectionKind) return Quality == QualityKind.None ? null : $"a detector carries no face quality (got '{Quality}')";
        if (EmbeddingSize is < 1 or > 65536) return $"embedding size {EmbeddingSize} is outside 1..65536";
        if (!AlignmentTemplate.All.Any(a => a.Name.Equals(Template, StringComparison.OrdinalIgnoreCase)))
            return $"alignment template '{Template}' is unknown (known: {string.Join(", ", AlignmentTemplate.All.Select(a => a.Name))})";
        return null;
    }
}
