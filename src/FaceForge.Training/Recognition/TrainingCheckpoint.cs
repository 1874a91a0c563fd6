using System.IO.Compression;
using System.Text.Json;
using FaceForge.Models;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Recognition;

/// <summary>Offline rewrites of recognition checkpoints (the host writes and reads them: <see cref="CheckpointArchive"/>).</summary>
public static class TrainingCheckpoint
{
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
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a whole checkpoint ({e.Message}).", e);
        }
        using var owned = zip;
        var entries = zip.Entries.ToDictionary(e => e.FullName, e => { using var s = e.Open(); using var m = new MemoryStream(); s.CopyTo(m); return m.ToArray(); });
        foreach (string name in new[] { "state.json", "classifier.bin" })
            if (!entries.ContainsKey(name)) throw new InvalidDataException($"{path}: checkpoint lacks {name}.");
        return entries;
    }

    private static Dictionary<string, Formats.PyTorch.TensorData> ReadClassifier(Dictionary<string, byte[]> entries, string path)
    {
        using var reader = new BinaryReader(new MemoryStream(entries["classifier.bin"]));
        return ModelFile.ReadTensors(reader, path, entries["classifier.bin"].Length);
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
