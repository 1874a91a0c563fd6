using System.IO.Compression;
using System.Text.Json;
using FaceForge.Models;
using FaceForge.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Training;

/// <summary>Where a checkpoint stands in training.</summary>
/// <param name="Step">Optimizer steps taken (the next step's 0-based index).</param>
/// <param name="BadSteps">Consecutive non-finite steps at save time.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Processes">Processes of the run (MPI world size); each saved its own class shards.</param>
internal sealed record CheckpointState(int Step, int BadSteps, int Seed, int Processes = 1);

/// <summary>
/// A resumable checkpoint: one zip holding state.json, the backbone's and classifier's tensors (with buffers such as
/// BN statistics and CurricularFace's t; Partial FC's shards with their momentum), the optimizer state and
/// libtorch's RNG state. Written atomically.
/// </summary>
public static class TrainingCheckpoint
{
    internal static void Save(string path, CheckpointState state, nn.Module backbone, IReadOnlyDictionary<string, Formats.PyTorch.TensorData> classifier, optim.Optimizer optimizer)
    {
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var w = new StreamWriter(zip.CreateEntry("state.json").Open()))
                w.Write(JsonSerializer.Serialize(state));
            foreach (var (name, tensors) in new[] { ("backbone.bin", StateDict.Export(backbone)), ("classifier.bin", classifier) })
            {
                using var writer = new BinaryWriter(zip.CreateEntry(name, CompressionLevel.Fastest).Open());
                ModelFile.WriteTensors(writer, tensors);
            }
            using (var writer = new BinaryWriter(zip.CreateEntry("optimizer.bin", CompressionLevel.Fastest).Open()))
                ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(writer);
            using (var writer = new BinaryWriter(zip.CreateEntry("rng.bin").Open()))
            {
                using var rng = torch.random.get_rng_state();
                var bytes = rng.bytes.ToArray();
                writer.Write(bytes.Length);
                writer.Write(bytes);
            }
        });
    }

    internal static CheckpointState Load(string path, nn.Module backbone, ITrainingClassifier classifier, optim.Optimizer optimizer, int processes = 1)
    {
        using var zip = ZipFile.OpenRead(path);
        ZipArchiveEntry Entry(string name) => zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: checkpoint lacks {name}.");
        CheckpointState state;
        using (var r = new StreamReader(Entry("state.json").Open()))
            state = JsonSerializer.Deserialize<CheckpointState>(r.ReadToEnd()) ?? throw new InvalidDataException($"{path}: empty state.json.");
        if (state.Processes != processes)
            throw new InvalidDataException($"{path}: saved by a run of {state.Processes} process(es), this one has {processes}; resume with the same process count, or rewrite the centres with 'faceforge model reshard --run RUN_DIR --processes {processes}' first.");
        using (var reader = new BinaryReader(Entry("backbone.bin").Open()))
            StateDict.Load(backbone, ModelFile.ReadTensors(reader, path), strict: true, $"{path} (backbone)");
        using (var reader = new BinaryReader(Entry("classifier.bin").Open()))
            classifier.Import(ModelFile.ReadTensors(reader, path), $"{path} (classifier)");
        using (var stream = new MemoryStream())
        {
            using (var s = Entry("optimizer.bin").Open()) s.CopyTo(stream);
            stream.Position = 0;
            using var reader = new BinaryReader(stream);
            ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(reader);
        }
        using (var reader = new BinaryReader(Entry("rng.bin").Open()))
        {
            var bytes = reader.ReadBytes(reader.ReadInt32());
            using var rng = torch.tensor(bytes, ScalarType.Byte);
            torch.random.set_rng_state(rng);
        }
        return state;
    }

    /// <summary>
    /// Rewrites the Partial FC class centres and momentum of a run's checkpoint for <paramref name="processes"/>
    /// processes of <paramref name="shards"/> shards each (the rows keep their order; only the split changes).
    /// <paramref name="path"/> is process 0's file; the other processes' files of the same step sit in
    /// rank{r}/ beside it and are read, rewritten, created or removed to match. Other entries are copied from process 0.
    /// </summary>
    /// <returns>The previous shard count per process and process count.</returns>
    public static (int Shards, int Processes) Reshard(string path, int shards, int processes = 1)
    {
        if (shards < 1 || processes < 1) throw new ArgumentException($"Shards and processes must be at least 1 (got {shards} and {processes}).");
        var root = ReadEntries(path);
        var state = JsonSerializer.Deserialize<CheckpointState>(root["state.json"]) ?? throw new InvalidDataException($"{path}: empty state.json.");
        string RankPath(int rank) => rank == 0 ? path : Path.Combine(Path.GetDirectoryName(path)!, $"rank{rank}", Path.GetFileName(path));
        var classifiers = new List<Dictionary<string, Formats.PyTorch.TensorData>>();
        for (int rank = 0; rank < state.Processes; rank++)
        {
            string file = RankPath(rank);
            if (!File.Exists(file)) throw new FileNotFoundException($"{path}: saved by {state.Processes} processes, but process {rank}'s checkpoint {file} is missing.", file);
            classifiers.Add(ReadClassifier(rank == 0 ? root : ReadEntries(file), file));
        }
        int old = classifiers[0].Keys.Count(IsCentres);
        if (old == 0) throw new InvalidDataException($"{path}: not a Partial FC checkpoint (no class shards); a full-softmax run needs no resharding.");
        var rest = classifiers[0].Where(kv => !kv.Key.StartsWith("shard", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var outputs = Enumerable.Range(0, processes).Select(_ => new Dictionary<string, Formats.PyTorch.TensorData>(rest)).ToList();
        foreach (string part in new[] { "centres", "momentum", "updated" })
        {
            // Checkpoints from before the momentum catch-up have no update steps; loading treats them as current.
            if (!classifiers[0].ContainsKey($"shard0.{part}")) continue;
            var pieces = classifiers.SelectMany(c => Enumerable.Range(0, c.Keys.Count(IsCentres)).Select(i => c[$"shard{i}.{part}"])).ToList();
            long classes = pieces.Sum(p => p.Shape[0]);
            long[] rowShape = pieces[0].Shape[1..];
            if (shards * (long)processes > classes) throw new ArgumentException($"More shards ({shards * processes}) than classes ({classes}).");
            byte[] all = pieces.SelectMany(p => p.Data).ToArray();
            long rowBytes = all.LongLength / classes;
            var ranges = Classifiers.ClassShard.Ranges(classes, shards * processes);
            for (int i = 0; i < ranges.Length; i++)
                outputs[i / shards][$"shard{i % shards}.{part}"] = new Formats.PyTorch.TensorData(pieces[0].ElementType, [ranges[i].Count, .. rowShape],
                    all.AsSpan((int)(ranges[i].Start * rowBytes), (int)(ranges[i].Count * rowBytes)).ToArray());
        }
        root["state.json"] = JsonSerializer.SerializeToUtf8Bytes(state with { Processes = processes });
        for (int rank = 0; rank < processes; rank++)
        {
            using (var buffer = new MemoryStream())
            {
                using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) ModelFile.WriteTensors(writer, outputs[rank]);
                root["classifier.bin"] = buffer.ToArray();
            }
            Directory.CreateDirectory(Path.GetDirectoryName(RankPath(rank))!);
            WriteEntries(RankPath(rank), root);
        }
        for (int rank = processes; rank < state.Processes; rank++) File.Delete(RankPath(rank));
        return (old, state.Processes);
    }

    private static bool IsCentres(string key) => key.StartsWith("shard", StringComparison.Ordinal) && key.EndsWith(".centres", StringComparison.Ordinal);

    private static Dictionary<string, byte[]> ReadEntries(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var entries = zip.Entries.ToDictionary(e => e.FullName, e => { using var s = e.Open(); using var m = new MemoryStream(); s.CopyTo(m); return m.ToArray(); });
        foreach (string name in new[] { "state.json", "classifier.bin" })
            if (!entries.ContainsKey(name)) throw new InvalidDataException($"{path}: checkpoint lacks {name}.");
        return entries;
    }

    private static Dictionary<string, Formats.PyTorch.TensorData> ReadClassifier(Dictionary<string, byte[]> entries, string path)
    {
        using var reader = new BinaryReader(new MemoryStream(entries["classifier.bin"]));
        return ModelFile.ReadTensors(reader, path);
    }

    private static void WriteEntries(string path, Dictionary<string, byte[]> entries) => AtomicFile.Write(path, stream =>
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var (name, bytes) in entries)
        {
            using var entry = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
            entry.Write(bytes);
        }
    });
}
