using FaceForge.Cli;

namespace FaceForge.Tests;

/// <summary>Runs the real `faceforge` command tree in-process with captured output.</summary>
internal static class CliHarness
{
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliRunner.Run(CommandTree.Create(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
