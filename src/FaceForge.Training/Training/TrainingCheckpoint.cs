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
/// BN statistics and CurricularFace's t), the optimizer state and libtorch's RNG state. Written atomically.
/// </summary>
internal static class TrainingCheckpoint
{
    public static void Save(string path, CheckpointState state, nn.Module backbone, nn.Module classifier, optim.Optimizer optimizer)
    {
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            using (var w = new StreamWriter(zip.CreateEntry("state.json").Open()))
                w.Write(JsonSerializer.Serialize(state));
            foreach (var (name, module) in new[] { ("backbone.bin", backbone), ("classifier.bin", classifier) })
            {
                using var writer = new BinaryWriter(zip.CreateEntry(name, CompressionLevel.Fastest).Open());
                ModelFile.WriteTensors(writer, StateDict.Export(module));
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

    public static CheckpointState Load(string path, nn.Module backbone, nn.Module classifier, optim.Optimizer optimizer)
    {
        using var zip = ZipFile.OpenRead(path);
        ZipArchiveEntry Entry(string name) => zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: checkpoint lacks {name}.");
        CheckpointState state;
        using (var r = new StreamReader(Entry("state.json").Open()))
            state = JsonSerializer.Deserialize<CheckpointState>(r.ReadToEnd()) ?? throw new InvalidDataException($"{path}: empty state.json.");
        foreach (var (name, module) in new[] { ("backbone.bin", backbone), ("classifier.bin", classifier) })
        {
            using var reader = new BinaryReader(Entry(name).Open());
            StateDict.Load(module, ModelFile.ReadTensors(reader, path), strict: true, $"{path} ({name})");
        }
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
}
