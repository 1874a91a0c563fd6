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
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes a model file.</summary>
    public static void Save(string path, ModelInfo info, IReadOnlyDictionary<string, TensorData> weights)
    {
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var writer = new StreamWriter(zip.CreateEntry("model.json").Open(), new UTF8Encoding(false)))
                writer.Write(JsonSerializer.Serialize(info, Json));
            using var weightsStream = new BinaryWriter(zip.CreateEntry("weights.bin", CompressionLevel.Fastest).Open());
            WriteTensors(weightsStream, weights);
        });
    }

    /// <summary>Reads only the metadata.</summary>
    public static ModelInfo ReadInfo(string path)
    {
        using var zip = OpenZip(path);
        return ReadInfo(zip, path);
    }

    /// <summary>Reads metadata and weights.</summary>
    public static (ModelInfo Info, IReadOnlyDictionary<string, TensorData> Weights) Read(string path)
    {
        using var zip = OpenZip(path);
        var info = ReadInfo(zip, path);
        var entry = zip.GetEntry("weights.bin") ?? throw new InvalidDataException($"{path}: model file has no weights.bin.");
        using var reader = new BinaryReader(entry.Open());
        return (info, ReadTensors(reader, path));
    }

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
    public static Dictionary<string, TensorData> ReadTensors(BinaryReader reader, string path)
    {
        try
        {
            int count = reader.ReadInt32();
            var result = new Dictionary<string, TensorData>(count, StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                var type = (TensorElementType)reader.ReadByte();
                var shape = new long[reader.ReadByte()];
                for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
                long length = reader.ReadInt64();
                var data = reader.ReadBytes(checked((int)length));
                if (data.Length != length) throw new EndOfStreamException();
                var tensor = new TensorData(type, shape, data);
                if (tensor.ElementCount * TensorData.ElementSize(type) != length)
                    throw new InvalidDataException($"{path}: tensor '{name}' has {length} bytes for shape {tensor.ShapeText}.");
                result[name] = tensor;
            }
            return result;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: weights end early (truncated file?).", e);
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
            throw new InvalidDataException($"{path}: not a FaceForge model file ({e.Message}).", e);
        }
    }

    private static ModelInfo ReadInfo(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry("model.json") ?? throw new InvalidDataException($"{path}: not a FaceForge model file (no model.json).");
        using var reader = new StreamReader(entry.Open());
        try
        {
            return JsonSerializer.Deserialize<ModelInfo>(reader.ReadToEnd(), Json) ?? throw new InvalidDataException($"{path}: empty model.json.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: bad model.json: {e.Message}", e);
        }
    }
}
