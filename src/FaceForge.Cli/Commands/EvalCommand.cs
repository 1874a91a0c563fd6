using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval`: evaluation protocols.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var eval = new Command("eval", "Evaluate models with standard protocols.");
        eval.Subcommands.Add(EvalVerifyCommand.Create());
        eval.Subcommands.Add(EvalIdentifyCommand.Create());
        eval.Subcommands.Add(EvalQualityCommand.Create());
        eval.Subcommands.Add(EvalDegradationCommand.Create());
        eval.Subcommands.Add(EvalLandmarksCommand.Create());
        eval.Subcommands.Add(EvalDetectCommand.Create());
        return eval;
    }
}
