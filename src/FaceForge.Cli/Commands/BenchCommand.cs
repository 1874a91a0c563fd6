using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge bench`: measurements recorded in docs/benchmarks.md.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks (results go to docs/benchmarks.md).");
        bench.Subcommands.Add(BenchPipelineCommand.Create());
        bench.Subcommands.Add(BenchTrainCommand.Create());
        bench.Subcommands.Add(BenchClassifierCommand.Create());
        bench.Subcommands.Add(BenchDetectCommand.Create());
        bench.Subcommands.Add(BenchOnnxCommand.Create());
        bench.Subcommands.Add(BenchGalleryCommand.Create());
        bench.Subcommands.Add(BenchServeCommand.Create());
        return bench;
    }
}
