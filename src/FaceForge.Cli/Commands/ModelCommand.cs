using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge model`: model files.</summary>
internal static class ModelCommand
{
    public static Command Create()
    {
        var model = new Command("model", "Describe FaceForge model files, import PyTorch weights into them, and reshard Partial FC checkpoints.");
        model.Subcommands.Add(ModelInfoCommand.Create());
        model.Subcommands.Add(ModelImportCommand.Create());
        model.Subcommands.Add(ModelReshardCommand.Create());
        return model;
    }
}
