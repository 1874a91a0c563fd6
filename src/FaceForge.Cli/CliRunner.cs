using System.CommandLine;

namespace FaceForge.Cli;

/// <summary>
/// Runs the command tree and turns user mistakes (bad files, bad values) into one line on standard error and exit
/// code 2, never a stack trace. Anything else is a bug: one line plus "internal error", exit code 70, and the
/// stack trace only when FACEFORGE_DEBUG is set.
/// </summary>
internal static class CliRunner
{
    public const int UserErrorExitCode = 2;
    public const int InternalErrorExitCode = 70;

    public static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error)
    {
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(configuration);
        }
        catch (Exception e)
        {
            var (line, code) = Describe(e);
            error.WriteLine(line);
            if (code == InternalErrorExitCode && Environment.GetEnvironmentVariable("FACEFORGE_DEBUG") is { Length: > 0 }) error.WriteLine(e);
            return code;
        }
    }

    /// <summary>The one line and exit code reporting <paramref name="e"/>.</summary>
    public static (string Line, int Code) Describe(Exception e) => e switch
    {
        _ when IsUserError(e) => ($"error: {e.Message}", UserErrorExitCode),
        OperationCanceledException => ("cancelled", 130),
        _ => ($"internal error: {e.GetType().Name}: {e.Message}", InternalErrorExitCode),
    };

    private static bool IsUserError(Exception e) =>
        e is UserErrorException or FaceForge.Training.Distributed.DistributedUnavailableException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or UnauthorizedAccessException
        || (e is AggregateException a && a.InnerExceptions.Count > 0 && a.InnerExceptions.All(IsUserError));
}

/// <summary>A mistake of the person running the command, reported as one line.</summary>
internal sealed class UserErrorException(string message) : Exception(message);
