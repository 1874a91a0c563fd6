using System.CommandLine;
using FaceForge.Training.Recognition;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge model reshard`: re-split a Partial FC run's class centres for another shard count.</summary>
internal static class ModelReshardCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "Run folder (its newest checkpoint and config.json are rewritten).", Required = true };
        var shards = new Option<int>("--shards") { Description = "New shard count per process.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var processes = new Option<int>("--processes") { Description = "New process count (MPI ranks); each gets --shards shards.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var command = new Command("reshard", "Rewrite a Partial FC checkpoint's class centres for a different shard or process count.") { run, shards, processes };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(run)!;
            string configPath = Path.Combine(dir, "config.json");
            if (!File.Exists(configPath)) throw new UserErrorException($"--run: '{dir}' holds no config.json: not a FaceForge run folder.");
            var config = TrainingConfig.Load(configPath);
            string checkpoint = new Trainer(config, dir).LatestCheckpoint() ?? throw new UserErrorException($"--run: '{dir}' holds no checkpoint.");
            int count = parse.GetValue(shards), ranks = parse.GetValue(processes);
            var (oldShards, oldProcesses) = TrainingCheckpoint.Reshard(checkpoint, count, ranks);
            // Keep BatchNorm's groups: P processes of M micro-batches (or M replicas) normalise P x M pieces of each batch.
            int pieces = config.MicroBatches * config.Replicas, groups = oldProcesses * pieces;
            int perProcess = groups % ranks == 0 ? groups / ranks : pieces;
            var resharded = config.Replicas > 1 ? config with { Shards = count, Replicas = perProcess } : config with { Shards = count, MicroBatches = perProcess };
            AtomicFile.WriteAllText(configPath, resharded.ToJson());
            parse.InvocationConfiguration.Output.WriteLine($"resharded {Path.GetFileName(checkpoint)} from {oldProcesses} process(es) x {oldShards} shard(s) to {ranks} x {count}");
            return 0;
        });
        return command;
    }
}
