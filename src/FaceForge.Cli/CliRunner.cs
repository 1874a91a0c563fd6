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
            var parse = root.Parse(args);
            // One line and exit 2, as for every other mistake: no help dump (the line says where help is).
            if (parse.Errors.Count > 0)
            {
                string command = string.Join(' ', ["faceforge", .. CommandPath(parse.CommandResult)]);
                error.WriteLine($"error: {Describe(parse)} (see '{command} --help')");
                return UserErrorExitCode;
            }
            return parse.Invoke(configuration);
        }
        catch (Exception e)
        {
            var (line, code) = Describe(e);
            error.WriteLine(line);
            if (code == InternalErrorExitCode && Environment.GetEnvironmentVariable("FACEFORGE_DEBUG") is { Length: > 0 }) error.WriteLine(e);
            return code;
        }
    }

    /// <summary>
    /// The parser's first error in one line: an unknown word before a missing command (with the nearest command
    /// name), the option it concerns named, lists of accepted values kept on the line.
    /// </summary>
    private static string Describe(ParseResult parse)
    {
        var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
        string message = string.Join(' ', first.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        if (first.Message.StartsWith("Unrecognized", StringComparison.Ordinal)
            && System.Text.RegularExpressions.Regex.Match(first.Message, "'([^']*)'") is { Success: true } word && !word.Groups[1].Value.StartsWith('-'))
        {
            var near = parse.CommandResult.Command.Subcommands.Select(c => c.Name).MinBy(n => Distance(n, word.Groups[1].Value));
            if (near is not null && Distance(near, word.Groups[1].Value) <= 2) message += $" Did you mean '{near}'?";
        }
        string? option = first.SymbolResult switch
        {
            System.CommandLine.Parsing.OptionResult o => o.Option.Name,
            System.CommandLine.Parsing.ArgumentResult { Parent: System.CommandLine.Parsing.OptionResult o } => o.Option.Name,
            _ => null,
        };
        message = Plain(message);
        return option is not null && !message.Contains(option, StringComparison.Ordinal) ? $"{option}: {message}" : message;
    }

    /// <summary>Edit distance, for "did you mean".</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>A parser message without .NET type names ("as expected type 'System.Single'" becomes "as a number").</summary>
    private static string Plain(string message) => System.Text.RegularExpressions.Regex.Replace(message.Replace(" Did you mean one of the following?", "", StringComparison.Ordinal), @"as expected type '([^']*)'", m =>
        m.Groups[1].Value switch
        {
            var t when t.Contains("Single", StringComparison.Ordinal) || t.Contains("Double", StringComparison.Ordinal) => "as a number",
            var t when t.Contains("Int32", StringComparison.Ordinal) || t.Contains("Int64", StringComparison.Ordinal) => "as a whole number",
            var t when t.Contains("Boolean", StringComparison.Ordinal) => "as true or false",
            var t when t.Contains("FlipMode", StringComparison.Ordinal) => "as one of None, Add, Concatenate",
            _ => "as a value of this option",
        });

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new Stack<string>();
        for (var current = result; current?.Parent is System.CommandLine.Parsing.CommandResult parent; current = parent) names.Push(current.Command.Name);
        return names;
    }

    /// <summary>The one line and exit code reporting <paramref name="e"/>.</summary>
    public static (string Line, int Code) Describe(Exception e)
    {
        e = Unwrap(e);
        return e switch
        {
            _ when IsUserError(e) => ($"error: {Message(e)}", UserErrorExitCode),
            OperationCanceledException => ("cancelled", 130),
            _ => ($"internal error: {e.GetType().Name}: {e.Message}", InternalErrorExitCode),
        };
    }

    /// <summary>The message without .NET's "(Parameter 'x')" suffix: parameter names are not what the person typed.</summary>
    internal static string Message(Exception e) =>
        e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;

    /// <summary>The first inner exception of parallel work ("One or more errors occurred" says nothing), and a task's own error.</summary>
    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: > 0 } aggregate:
                    e = aggregate.InnerExceptions.FirstOrDefault(inner => !IsUserError(Unwrap(inner))) ?? aggregate.InnerExceptions[0];
                    continue;
                case System.Reflection.TargetInvocationException { InnerException: { } inner }:
                    e = inner;
                    continue;
                default:
                    return e;
            }
        }
    }

    private static bool IsUserError(Exception e) =>
        e is UserErrorException or FaceForge.Training.Distributed.DistributedUnavailableException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
            or ArgumentException or UnauthorizedAccessException or FaceForge.Training.Hosting.RunFolderConflictException
        || e is PathTooLongException or LockedException or FaceForge.Gallery.GalleryUnavailableException || (e is IOException io && DiskProblem.Is(io));
}

/// <summary>A mistake of the person running the command, reported as one line.</summary>
internal sealed class UserErrorException(string message) : Exception(message);
