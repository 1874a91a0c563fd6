using System.CommandLine;
using FaceForge.Cli.Commands;

namespace FaceForge.Cli;

/// <summary>The `faceforge` command tree, shared by the program and the tests.</summary>
internal static class CommandTree
{
    public static RootCommand Create()
    {
        var root = new RootCommand("FaceForge: train, evaluate and deploy face recognition from .NET.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(TrainDetectorCommand.Create());
        root.Subcommands.Add(TrainUncertaintyCommand.Create());
        root.Subcommands.Add(DistillCommand.Create());
        root.Subcommands.Add(ModelCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(GalleryCommand.Create());
        root.Subcommands.Add(DetectCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        return root;
    }
}
