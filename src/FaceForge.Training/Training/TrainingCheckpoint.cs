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
internal sealed record CheckpointState(int Step, int BadSteps, int Seed);

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

    internal static CheckpointState Load(string path, nn.Module backbone, ITrainingClassifier classifier, optim.Optimizer optimizer)
    {
        using var zip = ZipFile.OpenRead(path);
        ZipArchiveEntry Entry(string name) => zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: checkpoint lacks {name}.");
        CheckpointState state;
        using (var r = new StreamReader(Entry("state.json").Open()))
            state = JsonSerializer.Deserialize<CheckpointState>(r.ReadToEnd()) ?? throw new InvalidDataException($"{path}: empty state.json.");
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
    /// Rewrites the Partial FC class centres and momentum of the checkpoint at <paramref name="path"/> for
    /// <paramref name="shards"/> shards (the rows keep their order; only the split changes). Other entries are copied.
    /// </summary>
    /// <returns>The previous shard count.</returns>
    public static int Reshard(string path, int shards)
    {
        Dictionary<string, byte[]> entries;
        using (var zip = ZipFile.OpenRead(path))
            entries = zip.Entries.ToDictionary(e => e.FullName, e => { using var s = e.Open(); using var m = new MemoryStream(); s.CopyTo(m); return m.ToArray(); });
        if (!entries.TryGetValue("classifier.bin", out var classifierBytes)) throw new InvalidDataException($"{path}: checkpoint lacks classifier.bin.");
        Dictionary<string, Formats.PyTorch.TensorData> tensors;
        using (var reader = new BinaryReader(new MemoryStream(classifierBytes)))
            tensors = ModelFile.ReadTensors(reader, path);
        int old = tensors.Keys.Count(k => k.StartsWith("shard", StringComparison.Ordinal) && k.EndsWith(".centres", StringComparison.Ordinal));
        if (old == 0) throw new InvalidDataException($"{path}: not a Partial FC checkpoint (no class shards); a full-softmax run needs no resharding.");
        var result = tensors.Where(kv => !kv.Key.StartsWith("shard", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (string part in new[] { "centres", "momentum" })
        {
            var pieces = Enumerable.Range(0, old).Select(i => tensors[$"shard{i}.{part}"]).ToList();
            long classes = pieces.Sum(p => p.Shape[0]), dim = pieces[0].Shape[1];
            if (shards > classes) throw new ArgumentException($"More shards ({shards}) than classes ({classes}).", nameof(shards));
            byte[] all = pieces.SelectMany(p => p.Data).ToArray();
            long rowBytes = all.LongLength / classes;
            var ranges = Classifiers.ClassShard.Ranges(classes, shards);
            for (int i = 0; i < shards; i++)
                result[$"shard{i}.{part}"] = new Formats.PyTorch.TensorData(pieces[0].ElementType, [ranges[i].Count, dim],
                    all.AsSpan((int)(ranges[i].Start * rowBytes), (int)(ranges[i].Count * rowBytes)).ToArray());
        }
        using (var buffer = new MemoryStream())
        {
            using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) ModelFile.WriteTensors(writer, result);
            entries["classifier.bin"] = buffer.ToArray();
        }
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, bytes) in entries)
            {
                using var entry = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
                entry.Write(bytes);
            }
        });
        return old;
    }
}
