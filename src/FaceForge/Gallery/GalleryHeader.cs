using System.Globalization;

namespace FaceForge.Gallery;

/// <summary>What a store records about its gallery besides the faces: the model, the creation options, the threshold.</summary>
/// <param name="Model">The recorded model.</param>
/// <param name="Options">The creation options.</param>
/// <param name="Threshold">The open-set threshold, or null.</param>
/// <param name="ThresholdFpir">The FPIR it was calibrated for, or null.</param>
public sealed record GalleryHeader(GalleryModel Model, GalleryOptions Options, double? Threshold, double? ThresholdFpir)
{
    /// <summary>The key-value rows both stores keep in their meta table (SQLite adds its creation time).</summary>
    internal Dictionary<string, string?> ToMeta() => new()
    {
        ["format"] = SqliteGalleryStore.Format,
        ["schema_version"] = SqliteGalleryStore.SchemaVersion.ToString(CultureInfo.InvariantCulture),
        ["model_fingerprint"] = Model.Fingerprint,
        ["model_architecture"] = Model.Architecture,
        ["embedding_size"] = Model.EmbeddingSize.ToString(CultureInfo.InvariantCulture),
        ["model_template"] = Model.Template,
        ["model_path"] = Model.ModelPath,
        ["detector_path"] = Model.DetectorPath,
        ["precision"] = Options.Precision.ToString().ToLowerInvariant(),
        ["hnsw_above"] = Options.HnswAbove.ToString(CultureInfo.InvariantCulture),
        ["threshold"] = Number(Threshold),
        ["threshold_fpir"] = Number(ThresholdFpir),
    };

    /// <summary>Reads <see cref="ToMeta"/>'s rows back; <paramref name="path"/> names the gallery in errors.</summary>
    /// <exception cref="InvalidDataException">Not a FaceForge gallery, a newer schema, or a damaged row.</exception>
    internal static GalleryHeader FromMeta(string path, IReadOnlyDictionary<string, string?> meta)
    {
        string Get(string key) => meta.TryGetValue(key, out string? v) && v is not null ? v : throw new InvalidDataException($"{path}: gallery metadata lacks '{key}' (a damaged or foreign file).");
        if (!meta.TryGetValue("format", out string? format) || format != SqliteGalleryStore.Format)
            throw new InvalidDataException($"{path}: a database but not a FaceForge gallery (meta 'format' is {(format is null ? "missing" : $"'{format}'")}).");
        if (!int.TryParse(Get("schema_version"), CultureInfo.InvariantCulture, out int version) || version > SqliteGalleryStore.SchemaVersion)
            throw new InvalidDataException($"{path}: gallery schema version '{meta["schema_version"]}' is newer than this FaceForge reads ({SqliteGalleryStore.SchemaVersion}).");
        if (!int.TryParse(Get("embedding_size"), CultureInfo.InvariantCulture, out int size) || size < 1)
            throw new InvalidDataException($"{path}: embedding size '{meta["embedding_size"]}' is not a positive number.");
        if (!Enum.TryParse<GalleryPrecision>(Get("precision"), ignoreCase: true, out var precision))
            throw new InvalidDataException($"{path}: precision '{meta["precision"]}' is neither float32 nor float16.");
        if (!int.TryParse(Get("hnsw_above"), CultureInfo.InvariantCulture, out int hnswAbove) || hnswAbove < 1)
            throw new InvalidDataException($"{path}: hnsw_above '{meta["hnsw_above"]}' is not a positive number.");
        var model = new GalleryModel(Get("model_fingerprint"), Get("model_architecture"), size, Get("model_template"), Get("model_path"), meta.GetValueOrDefault("detector_path"));
        return new GalleryHeader(model, new GalleryOptions { Precision = precision, HnswAbove = hnswAbove }, Parse(path, "threshold", meta), Parse(path, "threshold_fpir", meta));
    }

    /// <summary>A threshold as its meta row stores it: round-trip text, or null.</summary>
    internal static string? Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture);

    private static double? Parse(string path, string key, IReadOnlyDictionary<string, string?> meta) =>
        meta.GetValueOrDefault(key) is not { } text ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) ? value
        : throw new InvalidDataException($"{path}: gallery metadata '{key}' is '{text}', not a number.");
}
