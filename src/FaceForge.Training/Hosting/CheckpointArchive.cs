using System.IO.Compression;
using System.Text.Json;
using FaceForge.Formats.PyTorch;
using FaceForge.Models;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Hosting;

/// <summary>Where a checkpoint stands in training (state.json of every checkpoint).</summary>
/// <param name="Step">Optimizer steps taken (the next step's 0-based index).</param>
/// <param name="BadSteps">Consecutive non-finite steps at save time.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Processes">Processes of the run (MPI world size); each saved its own file.</param>
public sealed record CheckpointState(int Step, int BadSteps, int Seed, int Processes = 1);

/// <summary>
/// Writes the entries of one checkpoint zip. The host writes state.json and rng.bin (libtorch's global generator);
/// a trainer adds its own named entries (weights, optimizer state, anything else it needs to resume exactly).
/// </summary>
public sealed class CheckpointWriter
{
    private readonly ZipArchive _zip;

    internal CheckpointWriter(ZipArchive zip) => _zip = zip;

    /// <summary>Writes raw bytes.</summary>
    public void WriteBytes(string name, ReadOnlySpan<byte> bytes)
    {
        using var entry = _zip.CreateEntry(name, CompressionLevel.Fastest).Open();
        entry.Write(bytes);
    }

    /// <summary>Writes a value as JSON.</summary>
    public void WriteJson<T>(string name, T value) => WriteBytes(name, JsonSerializer.SerializeToUtf8Bytes(value));

    /// <summary>Writes named tensors in the model file's tensor format.</summary>
    public void WriteTensors(string name, IReadOnlyDictionary<string, TensorData> tensors)
    {
        using var writer = new BinaryWriter(_zip.CreateEntry(name, CompressionLevel.Fastest).Open());
        ModelFile.WriteTensors(writer, tensors);
    }

    /// <summary>Writes a module's parameters and buffers.</summary>
    public void WriteModule(string name, nn.Module module) => WriteTensors(name, StateDict.Export(module));

    /// <summary>
    /// Writes an optimizer's state (momentum buffers, Adam moments, step counts), under its TorchSharp family name
    /// (<see cref="OptimizerStateName"/>).
    /// </summary>
    public void WriteOptimizer(string name, optim.Optimizer optimizer)
    {
        using var state = new MemoryStream();
        using (var buffer = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true))
            ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(buffer);
        using var writer = new BinaryWriter(_zip.CreateEntry(name, CompressionLevel.Fastest).Open());
        OptimizerStateName.Rename(state.ToArray(), writer, OptimizerStateName.Family(optimizer.GetType()), accept: optimizer.GetType().Name);
    }

    /// <summary>Writes a random generator's state.</summary>
    public void WriteGenerator(string name, Generator generator)
    {
        using var state = generator.get_state();
        WriteBytes(name, state.bytes);
    }
}

/// <summary>Reads the entries of one checkpoint zip; a missing entry is an error naming the file.</summary>
public sealed class CheckpointReader
{
    private readonly ZipArchive _zip;

    internal CheckpointReader(ZipArchive zip, string path)
    {
        _zip = zip;
        Path = path;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>Whether the checkpoint holds entry <paramref name="name"/>.</summary>
    public bool Has(string name) => _zip.GetEntry(name) is not null;

    /// <summary>The entry's bytes.</summary>
    public byte[] ReadBytes(string name)
    {
        using var stream = Entry(name).Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>A JSON entry.</summary>
    public T ReadJson<T>(string name) => JsonSerializer.Deserialize<T>(ReadBytes(name)) ?? throw new InvalidDataException($"{Path}: empty {name}.");

    /// <summary>Named tensors.</summary>
    public Dictionary<string, TensorData> ReadTensors(string name)
    {
        var entry = Entry(name);
        using var reader = new BinaryReader(entry.Open());
        return ModelFile.ReadTensors(reader, Path, entry.Length);
    }

    /// <summary>Loads a module's parameters and buffers strictly.</summary>
    public void LoadModule(string name, nn.Module module) => StateDict.Load(module, ReadTensors(name), strict: true, $"{Path} ({name})");

    /// <summary>Loads an optimizer's state written under its TorchSharp family name or its own class name.</summary>
    public void LoadOptimizer(string name, optim.Optimizer optimizer)
    {
        using var state = new MemoryStream();
        using (var writer = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true))
            OptimizerStateName.Rename(ReadBytes(name), writer, optimizer.GetType().Name, accept: OptimizerStateName.Family(optimizer.GetType()));
        state.Position = 0;
        using var reader = new BinaryReader(state);
        ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(reader);
    }

    /// <summary>Restores a random generator's state.</summary>
    public void LoadGenerator(string name, Generator generator)
    {
        using var state = torch.tensor(ReadBytes(name), ScalarType.Byte);
        generator.set_state(state);
    }

    private ZipArchiveEntry Entry(string name) => _zip.GetEntry(name) ?? throw new InvalidDataException($"{Path}: checkpoint lacks {name}.");
}

/// <summary>Checkpoint files: one zip, written atomically (temporary file, then rename).</summary>
public static class CheckpointArchive
{
    internal const string StateEntry = "state.json";
    private const string RngEntry = "rng.bin";

    /// <summary>Writes <paramref name="state"/>, the global RNG and what <paramref name="write"/> adds.</summary>
    public static void Save(string path, CheckpointState state, Action<CheckpointWriter> write) => AtomicFile.Write(path, stream =>
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        var writer = new CheckpointWriter(zip);
        writer.WriteJson(StateEntry, state);
        write(writer);
        // Length-prefixed, as checkpoints of earlier releases wrote it.
        using var rng = torch.random.get_rng_state();
        writer.WriteBytes(RngEntry, [.. BitConverter.GetBytes(rng.bytes.Length), .. rng.bytes]);
    });

    /// <summary>
    /// Why the file is not a whole checkpoint (it does not open as a zip, an entry does not decompress to its end or
    /// fails its checksum, state.json is missing), or null when it is whole. This looks at the file alone, so a
    /// checkpoint of another configuration (shapes, shard counts) counts as whole: that is a mismatch, not damage.
    /// </summary>
    public static string? Damage(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            if (zip.GetEntry(StateEntry) is null) return "no state.json";
            var buffer = new byte[1 << 16];
            foreach (var entry in zip.Entries)
            {
                using var stream = entry.Open();
                long total = 0;
                int read;
                while ((read = stream.Read(buffer)) > 0) total += read;
                if (total != entry.Length) return $"{entry.FullName} holds {total} of its {entry.Length} bytes";
            }
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException && e is not FileNotFoundException)
        {
            return e.Message;
        }
    }

    /// <summary>Reads the state, lets <paramref name="read"/> restore the trainer's entries, then restores the global RNG.</summary>
    public static CheckpointState Load(string path, Action<CheckpointReader, CheckpointState> read)
    {
        using var zip = ZipFile.OpenRead(path);
        var reader = new CheckpointReader(zip, path);
        var state = reader.ReadJson<CheckpointState>(StateEntry);
        read(reader, state);
        using var rng = torch.tensor(reader.ReadBytes(RngEntry)[sizeof(int)..], ScalarType.Byte);
        torch.random.set_rng_state(rng);
        return state;
    }
}
