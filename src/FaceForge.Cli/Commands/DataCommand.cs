using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge data`: dataset tools.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var data = new Command("data", "Create, pack and inspect face datasets.");
        data.Subcommands.Add(DataSynthCommand.Create());
        data.Subcommands.Add(DataPackCommand.Create());
        data.Subcommands.Add(DataInfoCommand.Create());
        data.Subcommands.Add(DataSplitLfwCommand.Create());
        data.Subcommands.Add(DataAlignCommand.Create());
        data.Subcommands.Add(DataOccludeCommand.Create());
        return data;
    }
}
