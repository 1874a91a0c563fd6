using System.IO.Compression;
using System.Numerics;
using FaceForge.Formats.Pickle;

namespace FaceForge.Formats.PyTorch;

/// <summary>
/// Reads PyTorch checkpoints without Python or libtorch: the zip format of torch.save since 1.6 (archive/data.pkl
/// plus one file per storage) and the legacy format before it (magic, protocol, system info, the object pickle, the
/// storage-key list, then each storage's element count and raw bytes). See ../shared/docs/pytorch-legacy-format.md.
/// </summary>
/// <remarks>
/// Checkpoints are untrusted input: nothing is executed, every length and tensor view is checked against the bytes
/// that hold it before anything is allocated or copied, storages are checked against their zip CRC-32, and object
/// graphs nesting deeper than <see cref="PickleReader.MaxDepth"/> (or cyclic) are refused.
/// </remarks>
public static class PyTorchCheckpoint
{
    private const long LegacyProtocol = 1001;
    private const long MaxPickleBytes = 256L << 20;
    private static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);

    /// <summary>
    /// Loads the state dict of <paramref name="path"/>: the top-level object if it maps names to tensors, else the
    /// first value that does (e.g. 'net_state_dict', 'state_dict', 'model').
    /// </summary>
    /// <exception cref="InvalidDataException">Not a PyTorch checkpoint, a damaged one, or no state dict inside; the message names the file.</exception>
    public static IReadOnlyDictionary<string, TensorData> LoadStateDict(string path)
    {
        var root = Load(path);
        var dict = FindStateDict(root, path, 0, new HashSet<object>(ReferenceEqualityComparer.Instance)) ?? throw new InvalidDataException($"{path}: no state dict (a mapping of names to tensors) found in the checkpoint.");
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (key, value) in dict)
            if (value is TensorData tensor) result[key.ToString()!] = tensor;
        return result;
    }

    /// <summary>Loads the checkpoint's object graph with tensors materialised as <see cref="TensorData"/>.</summary>
    /// <exception cref="InvalidDataException">Not a PyTorch checkpoint, or a damaged one; the message names the file.</exception>
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
        try
        {
            return ReadLegacy(stream, path);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: the checkpoint ends before its last storage (file truncated?).", e);
        }
    }

    private static object? ReadLegacy(Stream stream, string path)
    {
        if (PickleReader.Read(stream, path) is not BigInteger magic || magic != LegacyMagic)
            throw new InvalidDataException($"{path}: pickle does not start with PyTorch's legacy magic number.");
        if (PickleReader.Read(stream, path) is not long protocol || protocol != LegacyProtocol)
            throw new InvalidDataException($"{path}: legacy protocol version is not {LegacyProtocol} (PyTorch writes and reads no other).");
        if (PickleReader.Read(stream, path) is Dictionary<object, object?> system && system.TryGetValue("little_endian", out var little) && little is false)
            throw new InvalidDataException($"{path}: a big-endian checkpoint; FaceForge reads little-endian ones (load and save it again with PyTorch on a little-endian machine).");
        object? root = PickleReader.Read(stream, path);
        var keys = PickleReader.Read(stream, path) as List<object?> ?? throw new InvalidDataException($"{path}: storage key list missing.");
        var records = new Dictionary<string, StorageRecord>();
        CollectStorages(root, records, path, 0, new HashSet<object>(ReferenceEqualityComparer.Instance));
        var storages = new Dictionary<string, byte[]>();
        var reader = new BinaryReader(stream);
        foreach (var keyObject in keys)
        {
            string key = KeyText(keyObject);
            if (!records.TryGetValue(key, out var record))
                throw new InvalidDataException($"{path}: storage '{key}' is listed but no tensor refers to it (a damaged file).");
            if (storages.ContainsKey(key)) throw new InvalidDataException($"{path}: storage '{key}' is listed twice.");
            long count = reader.ReadInt64();
            if (record.Elements is long expected && count != expected)
                throw new InvalidDataException($"{path}: storage '{key}' holds {count} elements; its tensors' record says {expected}.");
            long left = stream.Length - stream.Position;
            if (count < 0 || count > left / record.ElementSize || count * record.ElementSize > Array.MaxLength)
                throw new InvalidDataException($"{path}: storage '{key}' claims {count} elements of {record.ElementSize} bytes, but {left} bytes follow (truncated?).");
            storages[key] = reader.ReadBytes((int)(count * record.ElementSize));
        }
        return Materialise(root, (key, _) => storages.TryGetValue(key, out var b) ? b : throw new InvalidDataException($"{path}: storage '{key}' is referenced but not stored."),
            path, null, 0, new Dictionary<object, object?>(ReferenceEqualityComparer.Instance));
    }

    private static object? LoadZip(Stream stream, string path)
    {
        try
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read);
            var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl").ToList();
            if (pickles.Count == 0) throw new InvalidDataException($"{path}: zip without data.pkl: not a torch.save file.");
            if (pickles.Count > 1) throw new InvalidDataException($"{path}: the zip holds {pickles.Count} data.pkl entries ({pickles[0].FullName}, {pickles[1].FullName}); torch.save writes one.");
            var pickle = pickles[0];
            string prefix = pickle.FullName[..^"data.pkl".Length];
            // PyTorch 2.1+ records the byte order; "big" (s390x) would load byte-swapped.
            string? order = zip.GetEntry(prefix + "byteorder") is { } orderEntry ? System.Text.Encoding.ASCII.GetString(ReadEntry(orderEntry, path, 16)).Trim() : null;
            if (order is not (null or "little"))
                throw new InvalidDataException($"{path}: a big-endian checkpoint (byteorder '{order}'); FaceForge reads little-endian ones.");
            object? root;
            using (var pickleStream = new MemoryStream(ReadEntry(pickle, path, MaxPickleBytes)))
                root = PickleReader.Read(pickleStream, $"{path} ({pickle.FullName})");
            var read = new Dictionary<string, (StorageRecord Record, byte[] Data)>();
            return Materialise(root, (key, record) =>
            {
                string entryName = prefix + "data/" + key;
                if (read.TryGetValue(key, out var known))
                    return known.Record == record ? known.Data : throw new InvalidDataException($"{path}: storage '{entryName}' is recorded as {known.Record} and as {record}.");
                var entry = zip.GetEntry(entryName) ?? throw new InvalidDataException($"{path}: storage '{key}' missing from the archive.");
                if (record.Elements is < 0 or > int.MaxValue)
                    throw new InvalidDataException($"{path}: storage '{entryName}' is recorded with {record.Elements} elements.");
                long expected = record.Elements is long n ? n * record.ElementSize : -1;
                if (expected < 0 && entry.Length % record.ElementSize != 0)
                    throw new InvalidDataException($"{path}: storage '{entryName}' holds {entry.Length} bytes, not a whole number of {record.ElementSize}-byte elements.");
                if (expected >= 0 && entry.Length != expected)
                    throw new InvalidDataException($"{path}: storage '{entryName}' holds {entry.Length} bytes; its tensors' record says {record.Elements} elements of {record.ElementSize} bytes.");
                var data = ReadEntry(entry, path, Array.MaxLength);
                read[key] = (record, data);
                return data;
            }, path, null, 0, new Dictionary<object, object?>(ReferenceEqualityComparer.Instance));
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException && !e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // The zip library's own errors (a damaged directory, an unsupported compression) name neither file nor entry.
            throw new InvalidDataException($"{path}: not a readable zip archive ({e.Message.TrimEnd('.')}).", e);
        }
    }

    /// <summary>An entry's bytes, refused past <paramref name="limit"/> before inflating, and checked against its CRC-32.</summary>
    private static byte[] ReadEntry(ZipArchiveEntry entry, string path, long limit)
    {
        if (entry.Length > limit || entry.Length > Array.MaxLength)
            throw new InvalidDataException($"{path}: entry '{entry.FullName}' claims {entry.Length} bytes, more than such an entry can hold ({limit}).");
        var bytes = new byte[entry.Length];
        using (var data = entry.Open())
        {
            int read = 0, n;
            while (read < bytes.Length && (n = data.Read(bytes, read, bytes.Length - read)) > 0) read += n;
            // The directory's size is what was allocated: an entry inflating to more (or less) is damaged or hostile.
            if (read != bytes.Length || data.ReadByte() >= 0)
                throw new InvalidDataException($"{path}: entry '{entry.FullName}' does not hold the {entry.Length} bytes its directory record says.");
        }
        // torch.save with set_crc32_options(False) stores 0 for every entry.
        if (entry.Crc32 != 0 && System.IO.Hashing.Crc32.HashToUInt32(bytes) != entry.Crc32)
            throw new InvalidDataException($"{path}: entry '{entry.FullName}' fails its CRC-32 check (the file is damaged).");
        return bytes;
    }

    /// <summary>What a persistent id says of a storage: element size, and the element count where the record gives one.</summary>
    private sealed record StorageRecord(TensorElementType Type, long? Elements)
    {
        public int ElementSize => TensorData.ElementSize(Type);
    }

    /// <summary>
    /// A storage's persistent id, ('storage', type, key, location, elements[, view metadata]), or null when
    /// <paramref name="node"/> is none.
    /// </summary>
    private static (string Key, StorageRecord Record, object? View)? StorageId(object? node, string path)
    {
        if (node is not PicklePersistentId { Id: object?[] id } || id.Length < 1) return null;
        string tag = KeyText(id[0]);
        if (tag == "module")
            throw new InvalidDataException($"{path}: a whole pickled module (torch.save(model)), which needs its Python classes; save model.state_dict() instead and import that.");
        return tag == "storage" && id.Length >= 3 && id[1] is PickleGlobal g
            ? (KeyText(id[2]), new StorageRecord(ElementType(g.Name, path), id.Length >= 5 && id[4] is long n ? n : null), id.Length >= 6 ? id[5] : null)
            : null;
    }

    private static void CollectStorages(object? node, Dictionary<string, StorageRecord> records, string path, int depth, HashSet<object> seen)
    {
        if (node is null || node is string or long or double or bool or byte[] || !seen.Add(node)) return;
        if (depth > PickleReader.MaxDepth) throw TooDeep(path);
        switch (node)
        {
            case PicklePersistentId:
                if (StorageId(node, path) is var (key, record, _))
                {
                    if (records.TryGetValue(key, out var known) && known.Type != record.Type)
                        throw new InvalidDataException($"{path}: storage '{key}' is recorded as both {known.Type} and {record.Type}.");
                    records[key] = record;
                }
                break;
            case PickleCall call:
                foreach (var a in call.Arguments) CollectStorages(a, records, path, depth + 1, seen);
                CollectStorages(call.State, records, path, depth + 1, seen); // an object's attributes, set by BUILD
                break;
            case Dictionary<object, object?> d: foreach (var (k, v) in d) { CollectStorages(k, records, path, depth + 1, seen); CollectStorages(v, records, path, depth + 1, seen); } break;
            case List<object?> l: foreach (var v in l) CollectStorages(v, records, path, depth + 1, seen); break;
            case object?[] t: foreach (var v in t) CollectStorages(v, records, path, depth + 1, seen); break;
        }
    }

    /// <summary>
    /// The object graph with tensors rebuilt. Shared references stay shared (a node is rebuilt once), so a graph that
    /// repeats one subtree many times costs its size, not its unfolded size; cycles hit the depth limit.
    /// </summary>
    private static object? Materialise(object? node, Func<string, StorageRecord, byte[]> storage, string path, Where? where, int depth, Dictionary<object, object?> done)
    {
        if (node is null || node is string or long or double or bool or byte[] or BigInteger) return node;
        if (done.TryGetValue(node, out var result)) return result;
        if (depth > PickleReader.MaxDepth) throw TooDeep(path);
        result = node switch
        {
            PickleCall { Callable.Name: "_rebuild_tensor_v2" or "_rebuild_tensor" } call => Rebuild(call, storage, path, where),
            PickleCall { Callable.Name: "_rebuild_parameter" } call when call.Arguments.Length > 0 => Materialise(call.Arguments[0], storage, path, where, depth + 1, done),
            Dictionary<object, object?> d => d.ToDictionary(kv => kv.Key, kv => Materialise(kv.Value, storage, path, new Where(where, kv.Key), depth + 1, done)),
            List<object?> l => l.Select((v, i) => Materialise(v, storage, path, new Where(where, i), depth + 1, done)).ToList(),
            object?[] t => t.Select((v, i) => Materialise(v, storage, path, new Where(where, i), depth + 1, done)).ToArray(),
            _ => node,
        };
        done[node] = result;
        return result;
    }

    /// <summary>Where a value sits in the checkpoint (keys from the root), spelled out only for an error message.</summary>
    private sealed record Where(Where? Parent, object Key)
    {
        public override string ToString()
        {
            var keys = new List<string>();
            for (var w = this; w is not null && keys.Count < 20; w = w.Parent)
                keys.Add(w.Key is string s && s.Length > 60 ? s[..60] + "…" : $"{w.Key}");
            keys.Reverse();
            return string.Join(".", keys);
        }
    }

    private static InvalidDataException TooDeep(string path) =>
        new($"{path}: the checkpoint's objects nest deeper than {PickleReader.MaxDepth} levels (or refer to themselves): not a state dict FaceForge reads.");

    private static TensorData Rebuild(PickleCall call, Func<string, StorageRecord, byte[]> storage, string path, Where? where)
    {
        InvalidDataException Bad(string what) => new($"{path}: {(where is null ? "a tensor" : $"tensor '{where}'")}: {what}.");
        var a = call.Arguments;
        if (a.Length < 4 || StorageId(a[0], path) is not var (key, record, view))
            throw Bad($"unexpected tensor record ({call.Callable})");
        byte[] data = storage(key, record);
        int size = record.ElementSize;
        long storageElements = data.Length / size, viewStart = 0;
        if (view is not null)
        {
            // Legacy views: (view key, offset, elements) inside the root storage named by the key.
            if (view is not object?[] { Length: 3 } v || v[1] is not long start || v[2] is not long length || start < 0 || length < 0 || start > storageElements - length)
                throw Bad($"storage view {Describe(view)} does not lie inside storage '{key}' ({storageElements} elements)");
            viewStart = start;
            storageElements = length;
        }
        long offset = Integer(a[1], "storage offset", Bad);
        long[] shape = Integers(a[2], "shape", Bad);
        long[] stride = Integers(a[3], "stride", Bad);
        if (shape.Length != stride.Length) throw Bad($"shape [{string.Join(", ", shape)}] and stride ({string.Join(", ", stride)}) differ in rank");
        string Layout() => $"offset {offset}, shape [{string.Join(", ", shape)}], stride ({string.Join(", ", stride)})";
        if (offset < 0 || shape.Any(d => d < 0) || stride.Any(d => d < 0))
            throw Bad($"negative offset, size or stride ({Layout()})");
        long count, last = offset;
        try
        {
            count = shape.Aggregate(1L, (x, y) => checked(x * y));
            if (count > Array.MaxLength / size) throw new OverflowException();
            for (int d = 0; d < shape.Length && count > 0; d++) last = checked(last + (shape[d] - 1) * stride[d]);
        }
        catch (OverflowException)
        {
            throw Bad($"shape [{string.Join(", ", shape)}] with stride ({string.Join(", ", stride)}) at offset {offset} is impossibly large");
        }
        if (count == 0) return new TensorData(record.Type, shape, []); // an empty view may point anywhere, as in PyTorch
        if (last >= storageElements)
            throw Bad($"the view ({Layout()}) reaches element {last} of a storage of {storageElements}");
        var result = new byte[count * size];
        long baseByte = (viewStart + offset) * size;
        if (IsContiguous(shape, stride))
        {
            Buffer.BlockCopy(data, (int)baseByte, result, 0, result.Length);
            return new TensorData(record.Type, shape, result);
        }
        // Copy the strided view into contiguous row-major order (every index was bounded above).
        var index = new long[shape.Length];
        for (long n = 0; n < count; n++)
        {
            long source = 0;
            for (int d = 0; d < shape.Length; d++) source += index[d] * stride[d];
            Buffer.BlockCopy(data, (int)(baseByte + source * size), result, (int)(n * size), size);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return new TensorData(record.Type, shape, result);
    }

    private static bool IsContiguous(long[] shape, long[] stride)
    {
        long expected = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] != 1 && stride[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    private static long Integer(object? value, string what, Func<string, InvalidDataException> bad) =>
        value as long? ?? throw bad($"its {what} is {Describe(value)}, not a whole number");

    private static long[] Integers(object? value, string what, Func<string, InvalidDataException> bad) =>
        value is object?[] items ? items.Select(x => Integer(x, what, bad)).ToArray() : throw bad($"its {what} is {Describe(value)}, not a tuple of whole numbers");

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"the string '{(s.Length > 40 ? s[..40] + "…" : s)}'",
        double d => $"the float {d}",
        BigInteger b => $"the integer {b} (beyond 64 bits)",
        object?[] t => $"a tuple of {t.Length}",
        _ => $"a {value.GetType().Name}",
    };

    private static TensorElementType ElementType(string storageName, string path) => storageName switch
    {
        "FloatStorage" => TensorElementType.Float32,
        "DoubleStorage" => TensorElementType.Float64,
        "HalfStorage" => TensorElementType.Float16,
        "LongStorage" => TensorElementType.Int64,
        "IntStorage" => TensorElementType.Int32,
        "ByteStorage" or "BoolStorage" => TensorElementType.UInt8,
        _ => throw new InvalidDataException($"{path}: unsupported storage type '{storageName}' (FaceForge reads float, double, half, long, int, byte and bool storages)."),
    };

    private static string KeyText(object? key) => key switch
    {
        byte[] b => System.Text.Encoding.ASCII.GetString(b),
        _ => key?.ToString() ?? "",
    };

    private static Dictionary<object, object?>? FindStateDict(object? node, string path, int depth, HashSet<object> seen)
    {
        if (node is not Dictionary<object, object?> d || !seen.Add(d)) return null;
        if (depth > PickleReader.MaxDepth) throw TooDeep(path);
        if (d.Count > 0 && d.Values.All(v => v is TensorData)) return d;
        foreach (var value in d.Values)
            if (FindStateDict(value, path, depth + 1, seen) is { } found) return found;
        return null;
    }
}
