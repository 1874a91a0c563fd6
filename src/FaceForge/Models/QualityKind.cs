using System.Text.Json.Serialization;

namespace FaceForge.Models;

/// <summary>Which face quality a recognition model carries besides its embedding.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QualityKind>))]
public enum QualityKind
{
    /// <summary>None: the model gives only embeddings.</summary>
    [JsonStringEnumMemberName("none")]
    None,

    /// <summary>The embedding's magnitude before normalisation (MagFace-trained models: higher is better).</summary>
    [JsonStringEnumMemberName("magnitude")]
    Magnitude,

    /// <summary>A variance per embedding dimension from a Probabilistic Face Embeddings head (lower variance is better).</summary>
    [JsonStringEnumMemberName("uncertainty")]
    Uncertainty,
}
