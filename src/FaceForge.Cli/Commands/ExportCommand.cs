using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge export`: models in formats other runtimes load.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var export = new Command("export", "Export FaceForge models for deployment without libtorch.");
        export.Subcommands.Add(ExportOnnxCommand.Create());
        return export;
    }
}
