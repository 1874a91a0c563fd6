using System.IO.Compression;
using System.Security.Cryptography;

namespace FaceForge.Models;

/// <summary>
/// Which weights a model file holds, as a hex SHA-256, so that stored embeddings (a gallery, say) are only ever
/// compared with embeddings of the same network. A FaceForge .ffm model and its ONNX export share one fingerprint:
/// the exporter records the source's fingerprint in the ONNX metadata (<see cref="OnnxMetadataKey"/>).
/// </summary>
public static class ModelFingerprint
{
    /// <summary>The ONNX metadata key under which FaceForge's exporter records the source model's fingerprint.</summary>
    public const string OnnxMetadataKey = "faceforge.weights_sha256";

    /// <summary>
    /// The fingerprint of <paramref name="path"/>: for .ffm, the hash of its weights (not of the zip, whose metadata
    /// may change); for an ONNX file, the fingerprint its exporter recorded, else the hash of the whole file.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is neither a readable model file nor a loadable ONNX model.</exception>
    public static string Of(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file '{path}' does not exist.", path);
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            using (var session = OnnxModelFile.Open(path, optimize: false))
                if (session.ModelMetadata.CustomMetadataMap.TryGetValue(OnnxMetadataKey, out string? recorded) && recorded.Length == 64)
                    return recorded.ToLowerInvariant();
            using var file = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(file));
        }
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.GetEntry("weights.bin") ?? throw new InvalidDataException($"{path}: model file has no weights.bin.");
            using var stream = entry.Open();
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: not a FaceForge model file{ModelFile.NotAModelHint(path)} ({e.Message}).", e);
        }
    }
}
