using System.IO.Compression;
using FaceForge.Formats.Pickle;

namespace FaceForge.Formats.PyTorch;

/// <summary>
/// Reads PyTorch checkpoints without Python or libtorch: the zip format of torch.save since 1.6 (archive/data.pkl
/// plus one file per storage) and the legacy format before it (magic, protocol, system info, the object pickle, the
/// storage-key list, then each storage's element count and raw bytes). See ../shared/docs/pytorch-legacy-format.md.
/// </summary>
public static class PyTorchCheckpoint
{

    /// <summary>
    /// Loads the state dict of <paramref name="path"/>: the top-level object if it maps names to tensors, else the
    /// first value that does (e.g. 'net_state_dict', 'state_dict', 'model').
    /// </summary>
    /// <exception cref="InvalidDataException">Not a PyTorch checkpoint, or no state dict inside; the message names the file.</exception>
    public static IReadOnlyDictionary<string, TensorData> LoadStateDict(string path)
    {
        var root = Load(path);
        var dict = FindStateDict(root) ?? throw new InvalidDataException($"{path}: no state dict (a mapping of names to tensors) found in the checkpoint.");
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (key, value) in dict)
            if (value is TensorData tensor) result[key.ToString()!] = tensor;
        return result;
    }

    /// <summary>Loads the checkpoint's object graph with tensors materialised as <see cref="TensorData"/>.</summary>
    public static object? Load(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        if (stream.Read(head) < 2) throw new InvalidDataException($"{path}: too short to be a PyTorch checkpoint.");
        stream.Position = 0;
        if (head[0] == 'P' && head[1] == 'K') return LoadZip(stream, path);
        if (head[0] == 0x80) return LoadLegacy(stream, path);
        throw new InvalidDataException($"{path}: not a PyTorch checkpoint (starts with {Convert.ToHexString(head)}; expected a zip or a pickle).");
    }

    private static object? LoadLegacy(Stream stream, string path)
    {
        object? magic = PickleReader.Read(stream, path);
        if (magic is not System.Numerics.BigInteger big || big != System.Numerics.BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber))
            throw new InvalidDataException($"{path}: pickle does not start with PyTorch's legacy magic number.");
        PickleReader.Read(stream, path); // protocol version
        PickleReader.Read(stream, path); // system info (endianness, type sizes)
        object? root = PickleReader.Read(stream, path);
        var keys = PickleReader.Read(stream, path) as List<object?> ?? throw new InvalidDataException($"{path}: storage key list missing.");
        var storages = new Dictionary<string, byte[]>();
        var sizes = new Dictionary<string, int>();
        CollectStorageTypes(root, sizes);
        var reader = new BinaryReader(stream);
        foreach (var keyObject in keys)
        {
            string key = KeyText(keyObject);
            long count = reader.ReadInt64();
            int size = sizes.TryGetValue(key, out int s) ? s : 4;
            long bytes = count * size;
            if (bytes < 0 || stream.Position + bytes > stream.Length)
                throw new InvalidDataException($"{path}: storage '{key}' claims {count} elements but the file ends first (truncated?).");
            storages[key] = reader.ReadBytes((int)bytes);
        }
        return Materialise(root, key => storages.TryGetValue(key, out var b) ? b : throw new InvalidDataException($"{path}: storage '{key}' is referenced but not stored."), path);
    }

    private static object? LoadZip(Stream stream, string path)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Read);
        var pickle = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
            ?? throw new InvalidDataException($"{path}: zip without data.pkl: not a torch.save file.");
        string prefix = pickle.FullName[..^"data.pkl".Length];
        object? root;
        using (var pickleStream = new MemoryStream())
        {
            using (var entry = pickle.Open()) entry.CopyTo(pickleStream);
            pickleStream.Position = 0;
            root = PickleReader.Read(pickleStream, path);
        }
        return Materialise(root, key =>
        {
            var entry = zip.GetEntry(prefix + "data/" + key) ?? throw new InvalidDataException($"{path}: storage '{key}' missing from the archive.");
            using var data = entry.Open();
            using var copy = new MemoryStream();
            data.CopyTo(copy);
            return copy.ToArray();
        }, path);
    }

    private static void CollectStorageTypes(object? node, Dictionary<string, int> sizes)
    {
        switch (node)
        {
            case PickleCall call:
                if (call.Arguments.Length > 0 && call.Arguments[0] is PicklePersistentId { Id: object?[] id } && id.Length >= 3 && id[1] is PickleGlobal g)
                    sizes[KeyText(id[2])] = TensorData.ElementSize(ElementType(g.Name, "?"));
                foreach (var a in call.Arguments) CollectStorageTypes(a, sizes);
                break;
            case Dictionary<object, object?> d: foreach (var v in d.Values) CollectStorageTypes(v, sizes); break;
            case List<object?> l: foreach (var v in l) CollectStorageTypes(v, sizes); break;
            case object?[] t: foreach (var v in t) CollectStorageTypes(v, sizes); break;
        }
    }

    private static object? Materialise(object? node, Func<string, byte[]> storage, string path) => node switch
    {
        PickleCall { Callable.Name: "_rebuild_tensor_v2" or "_rebuild_tensor" } call => Rebuild(call, storage, path),
        PickleCall { Callable.Name: "_rebuild_parameter" } call when call.Arguments.Length > 0 => Materialise(call.Arguments[0], storage, path),
        Dictionary<object, object?> d => d.ToDictionary(kv => kv.Key, kv => Materialise(kv.Value, storage, path)),
        List<object?> l => l.Select(v => Materialise(v, storage, path)).ToList(),
        object?[] t => t.Select(v => Materialise(v, storage, path)).ToArray(),
        _ => node,
    };

    private static TensorData Rebuild(PickleCall call, Func<string, byte[]> storage, string path)
    {
        var a = call.Arguments;
        if (a.Length < 4 || a[0] is not PicklePersistentId { Id: object?[] id } || id.Length < 3 || id[1] is not PickleGlobal storageType)
            throw new InvalidDataException($"{path}: unexpected tensor record ({call.Callable}).");
        var type = ElementType(storageType.Name, path);
        int size = TensorData.ElementSize(type);
        byte[] data = storage(KeyText(id[2]));
        long offset = (long)a[1]!;
        long[] shape = ((object?[])a[2]!).Select(x => (long)x!).ToArray();
        long[] stride = ((object?[])a[3]!).Select(x => (long)x!).ToArray();
        long count = shape.Aggregate(1L, (x, y) => x * y);
        var result = new byte[count * size];
        // Copy the strided view into contiguous row-major order.
        var index = new long[shape.Length];
        for (long n = 0; n < count; n++)
        {
            long source = offset;
            for (int d = 0; d < shape.Length; d++) source += index[d] * stride[d];
            if ((source + 1) * size > data.Length)
                throw new InvalidDataException($"{path}: tensor view reaches past its storage ({data.Length / size} elements).");
            Buffer.BlockCopy(data, (int)(source * size), result, (int)(n * size), size);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return new TensorData(type, shape, result);
    }

    private static TensorElementType ElementType(string storageName, string path) => storageName switch
    {
        "FloatStorage" => TensorElementType.Float32,
        "DoubleStorage" => TensorElementType.Float64,
        "HalfStorage" => TensorElementType.Float16,
        "LongStorage" => TensorElementType.Int64,
        "IntStorage" => TensorElementType.Int32,
        "ByteStorage" or "BoolStorage" => TensorElementType.UInt8,
        _ => throw new InvalidDataException($"{path}: unsupported storage type '{storageName}'."),
    };

    private static string KeyText(object? key) => key switch
    {
        byte[] b => System.Text.Encoding.ASCII.GetString(b),
        _ => key?.ToString() ?? "",
    };

    private static Dictionary<object, object?>? FindStateDict(object? node)
    {
        if (node is not Dictionary<object, object?> d) return null;
        if (d.Count > 0 && d.Values.All(v => v is TensorData)) return d;
        foreach (var value in d.Values)
            if (FindStateDict(value) is { } found) return found;
        return null;
    }
}
