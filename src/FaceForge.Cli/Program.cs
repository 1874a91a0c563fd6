using System.CommandLine;
using FaceForge.Cli;
using FaceForge.Cli.Commands;

var root = new RootCommand("FaceForge: train, evaluate and deploy face recognition from .NET.");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(DataCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(ModelCommand.Create());
root.Subcommands.Add(EmbedCommand.Create());
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
return CliRunner.Run(root, args, Console.Out, Console.Error);
