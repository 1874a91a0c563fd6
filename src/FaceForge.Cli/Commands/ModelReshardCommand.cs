using System.CommandLine;
using FaceForge.Training.Training;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge model reshard`: re-split a Partial FC run's class centres for another shard count.</summary>
internal static class ModelReshardCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "Run folder (its newest checkpoint and config.json are rewritten).", Required = true };
        var shards = new Option<int>("--shards") { Description = "New shard count.", Required = true }.AtLeast(1);
        var command = new Command("reshard", "Rewrite a Partial FC checkpoint's class centres for a different shard count.") { run, shards };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(run)!;
            string configPath = Path.Combine(dir, "config.json");
            if (!File.Exists(configPath)) throw new UserErrorException($"--run: '{dir}' holds no config.json: not a FaceForge run folder.");
            var config = TrainingConfig.Load(configPath);
            string checkpoint = new Trainer(config, dir).LatestCheckpoint() ?? throw new UserErrorException($"--run: '{dir}' holds no checkpoint.");
            int count = parse.GetValue(shards);
            int old = TrainingCheckpoint.Reshard(checkpoint, count);
            AtomicFile.WriteAllText(configPath, (config with { Shards = count }).ToJson());
            parse.InvocationConfiguration.Output.WriteLine($"resharded {Path.GetFileName(checkpoint)} from {old} to {count} shards");
            return 0;
        });
        return command;
    }
}
