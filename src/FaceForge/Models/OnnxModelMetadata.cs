using Microsoft.ML.OnnxRuntime;

namespace FaceForge.Models;

/// <summary>
/// What FaceForge writes into an exported ONNX model's metadata, so that a loader never guesses pre-processing from
/// node names: the whole model.json under <see cref="ModelKey"/>, the source's <see cref="ModelFingerprint"/>, and
/// a few readable keys for other tools (template, normalisation, embedding size, quality).
/// </summary>
public static class OnnxModelMetadata
{
    /// <summary>The key holding the model's <see cref="ModelInfo"/> as model.json text.</summary>
    public const string ModelKey = "faceforge.model";

    /// <summary>The readable entries written beside <see cref="ModelKey"/>.</summary>
    public static IReadOnlyDictionary<string, string> Describe(ModelInfo info, string fingerprint)
    {
        var entries = new Dictionary<string, string>
        {
            [ModelKey] = ModelFile.SerializeInfo(info),
            [ModelFingerprint.OnnxMetadataKey] = fingerprint,
            ["faceforge.kind"] = info.Kind,
            ["faceforge.architecture"] = info.Architecture,
        };
        if (info.Kind == ModelInfo.RecognitionKind)
        {
            entries["faceforge.template"] = info.Template;
            entries["faceforge.input"] = $"float32 N x 3 x {info.InputHeight} x {info.InputWidth}, RGB planes, (pixel - {info.NormalizationMean}) / {info.NormalizationStd}";
            entries["faceforge.embedding_size"] = info.EmbeddingSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            entries["faceforge.quality"] = info.Quality.ToString().ToLowerInvariant();
            entries["faceforge.outputs"] = info.Quality == QualityKind.Uncertainty
                ? "embedding: unnormalised (normalise before cosine); log_sigma_sq: PFE log variances"
                : "embedding: unnormalised (normalise before cosine; its norm is the quality of magnitude models)";
        }
        else
        {
            entries["faceforge.input"] = "float32 N x 3 x H x W, BGR planes minus (104, 117, 123), any size";
            entries["faceforge.outputs"] = "loc, conf (softmax: background, face), landms per anchor, RetinaFace mobilenet priors (min sizes 10,20 / 32,64 / 128,256; steps 8, 16, 32; variances 0.1, 0.2)";
        }
        return entries;
    }

    /// <summary>The <see cref="ModelInfo"/> an ONNX session carries, or null for ONNX files FaceForge did not write.</summary>
    /// <exception cref="InvalidDataException">The metadata is FaceForge's but damaged.</exception>
    public static ModelInfo? Read(InferenceSession session, string path) =>
        session.ModelMetadata.CustomMetadataMap.TryGetValue(ModelKey, out string? json) ? ModelFile.ParseInfo(json, path, $"ONNX metadata '{ModelKey}'") : null;
}
