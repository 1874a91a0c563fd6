using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FaceForge.Formats.PyTorch;

namespace FaceForge.Models;

/// <summary>
/// A FaceForge model: one zip file holding model.json (<see cref="ModelInfo"/>) and weights.bin (named tensors:
/// count, then per tensor its UTF-8 name, element type, rank, dimensions and little-endian data). Readable without
/// libtorch; written atomically.
/// </summary>
public static class ModelFile
{
    // Duplicate keys are refused: with "last wins" a doctored model.json could say one thing to a reader and another to FaceForge.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, AllowDuplicateProperties = false };

    /// <summary>Writes a model file.</summary>
    public static void Save(string path, ModelInfo info, IReadOnlyDictionary<string, TensorData> weights)
    {
        if (info.Problem() is { } problem) throw new ArgumentException($"{path}: not written: {problem}.");
        if (Directory.Exists(path)) throw new ArgumentException($"'{path}' is a folder; a model file needs a file path.");
        if (NonFinite(weights) is { } broken) throw new ArgumentException($"{path}: not written: tensor '{broken}' holds NaN or infinite values (the weights are broken).");
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var writer = new StreamWriter(zip.CreateEntry("model.json").Open(), new UTF8Encoding(false)))
                writer.Write(SerializeInfo(info));
            using var weightsStream = new BinaryWriter(zip.CreateEntry("weights.bin", CompressionLevel.Fastest).Open());
            WriteTensors(weightsStream, weights);
        });
    }

    /// <summary>Reads only the metadata.</summary>
    public static ModelInfo ReadInfo(string path)
    {
        using var zip = OpenZip(path);
        return Damaged(path, () => ReadInfo(zip, path));
    }

    /// <summary>Reads metadata and weights.</summary>
    public static (ModelInfo Info, IReadOnlyDictionary<string, TensorData> Weights) Read(string path)
    {
        using var zip = OpenZip(path);
        return Damaged(path, () => Read(zip, path));
    }

    /// <summary>Runs a read, naming the file in the zip library's own errors (a damaged directory is found lazily).</summary>
    private static T Damaged<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: a damaged model file ({e.Message.TrimEnd('.')}).", e);
        }
    }

    /// <summary>Reads a model from a stream (an embedded resource, say); <paramref name="name"/> names it in messages.</summary>
    public static (ModelInfo Info, IReadOnlyDictionary<string, TensorData> Weights) Read(Stream stream, string name)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Read);
        return Read(zip, name);
    }

    private static (ModelInfo Info, IReadOnlyDictionary<string, TensorData> Weights) Read(ZipArchive zip, string path)
    {
        var info = ReadInfo(zip, path);
        var entry = zip.GetEntry("weights.bin") ?? throw new InvalidDataException($"{path}: model file has no weights.bin.");
        using var reader = new BinaryReader(entry.Open());
        var weights = ReadTensors(reader, path, entry.Length);
        // A model with NaN weights answers every face with NaN: scores compare false and look like decisions.
        if (NonFinite(weights) is { } broken) throw new InvalidDataException($"{path}: tensor '{broken}' holds NaN or infinite values (the weights are broken).");
        return (info, weights);
    }

    /// <summary>The name of the first tensor holding a NaN or an infinity, or null.</summary>
    public static string? NonFinite(IReadOnlyDictionary<string, TensorData> weights) =>
        weights.FirstOrDefault(w => !w.Value.IsFinite()).Key;

    /// <summary>Writes named tensors in the weights.bin layout.</summary>
    public static void WriteTensors(BinaryWriter writer, IReadOnlyDictionary<string, TensorData> tensors)
    {
        writer.Write(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            writer.Write(name);
            writer.Write((byte)tensor.ElementType);
            writer.Write((byte)tensor.Shape.Length);
            foreach (long d in tensor.Shape) writer.Write(d);
            writer.Write(tensor.Data.LongLength);
            writer.Write(tensor.Data);
        }
    }

    /// <summary>Reads named tensors in the weights.bin layout.</summary>
    /// <remarks>
    /// Every count and length is checked against <paramref name="available"/> (the stream's size, when known) before
    /// anything is allocated, so a hostile or corrupt header fails with a message instead of exhausting memory.
    /// </remarks>
    public static Dictionary<string, TensorData> ReadTensors(BinaryReader reader, string path, long available = int.MaxValue)
    {
        try
        {
            int count = reader.ReadInt32();
            // Each tensor takes at least a name byte, a type, a rank and a length: 11 bytes.
            if (count < 0 || count > available / 11) throw new InvalidDataException($"{path}: the weights claim {count} tensors in {available} bytes.");
            var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                var type = (TensorElementType)reader.ReadByte();
                if (!Enum.IsDefined(type)) throw new InvalidDataException($"{path}: tensor '{name}' has unknown element type {(int)type}.");
                var shape = new long[reader.ReadByte()];
                for (int d = 0; d < shape.Length; d++)
                    if ((shape[d] = reader.ReadInt64()) < 0) throw new InvalidDataException($"{path}: tensor '{name}' has a negative dimension ({shape[d]}).");
                long length = reader.ReadInt64();
                if (length < 0 || length > available || length > Array.MaxLength)
                    throw new InvalidDataException($"{path}: tensor '{name}' claims {length} bytes, more than the file holds ({available}).");
                long elements;
                try { elements = shape.Aggregate(1L, (a, b) => checked(a * b)); }
                catch (OverflowException) { throw new InvalidDataException($"{path}: tensor '{name}' has an impossible shape [{string.Join(", ", shape)}]."); }
                if (elements > length || elements * TensorData.ElementSize(type) != length)
                    throw new InvalidDataException($"{path}: tensor '{name}' has {length} bytes for shape [{string.Join(", ", shape)}].");
                var data = reader.ReadBytes((int)length);
                if (data.Length != length) throw new EndOfStreamException();
                if (!result.TryAdd(name, new TensorData(type, shape, data)))
                    throw new InvalidDataException($"{path}: tensor '{name}' appears twice in the weights.");
            }
            return result;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: weights end early (truncated file?).", e);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: the weights are damaged ({e.Message}).", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // The zip's own errors (a damaged compressed stream) do not name the file.
            throw new InvalidDataException($"{path}: the weights are damaged ({e.Message}).", e);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new InvalidDataException($"{path}: weights cannot be read ({e.Message}).", e);
        }
    }

    private static ZipArchive OpenZip(string path)
    {
        try
        {
            return ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a FaceForge model file{NotAModelHint(path)} ({e.Message}).", e);
        }
    }

    /// <summary>What to do instead when a model of another kind is given where a FaceForge one is needed.</summary>
    internal static string NotAModelHint(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".onnx" => "; it is ONNX, and this needs the .ffm it was exported from (or `faceforge model import` of the original weights)",
        ".pth" or ".pt" or ".ckpt" or ".tar" => "; it looks like PyTorch weights: import them with `faceforge model import --from FILE --arch NAME --out MODEL.ffm`",
        _ => "",
    };

    private static ModelInfo ReadInfo(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry("model.json") ?? throw new InvalidDataException($"{path}: not a FaceForge model file{NotAModelHint(path)} (no model.json).");
        using var reader = new StreamReader(entry.Open());
        return ParseInfo(reader.ReadToEnd(), path, "model.json");
    }

    /// <summary>The model.json text of <paramref name="info"/> (also what an exported ONNX model carries in its metadata).</summary>
    public static string SerializeInfo(ModelInfo info) => JsonSerializer.Serialize(info, Json);

    /// <summary>Parses and checks model.json text; <paramref name="path"/> and <paramref name="what"/> name it in messages.</summary>
    public static ModelInfo ParseInfo(string json, string path, string what)
    {
        try
        {
            var info = JsonSerializer.Deserialize<ModelInfo>(json, Json) ?? throw new InvalidDataException($"{path}: empty {what}.");
            return info.Problem() is { } problem ? throw new InvalidDataException($"{path}: {what}: {problem}.") : info;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: bad {what}: {Configuration.SettingsJson.Describe(e)}", e);
        }
    }
}
