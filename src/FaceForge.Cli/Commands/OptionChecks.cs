using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>Validators attached to options, so bad values fail at parse time with the option's name.</summary>
internal static class OptionChecks
{
    public static Option<int> AtLeast(this Option<int> option, int minimum)
    {
        option.Validators.Add(result =>
        {
            if (!TryValue(result, out int value)) return;
            if (value < minimum) result.AddError($"{option.Name} must be at least {minimum} (got {value}).");
        });
        return option;
    }

    public static Option<int> Between(this Option<int> option, int minimum, int maximum)
    {
        option.Validators.Add(result =>
        {
            if (!TryValue(result, out int value)) return;
            if (value < minimum || value > maximum) result.AddError($"{option.Name} must be between {minimum} and {maximum} (got {value}).");
        });
        return option;
    }

    /// <summary>The option lists LFW folds ("6-10", "1,3"): a bad list fails at parse time naming the option.</summary>
    public static Option<T> FoldList<T>(this Option<T> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T>() is not string text) return;
            try { FaceForge.Evaluation.LfwPairs.ParseFolds(text); }
            catch (ArgumentException e) { result.AddError($"{option.Name}: {(e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message)}"); }
        });
        return option;
    }

    public static Option<string> ExistingPath(this Option<string> option)
    {
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string>();
            if (value is not null && !File.Exists(value) && !Directory.Exists(value)
                && !File.Exists(value + ".rec") && !File.Exists(value + ".idx"))
                result.AddError($"{option.Name}: '{value}' does not exist.");
        });
        return option;
    }

    /// <summary>The option names an output folder: refused at parse time when a file of that name is in the way.</summary>
    public static Option<string?> OutputFolder(this Option<string?> option)
    {
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string?>();
            if (value is not null && File.Exists(value)) result.AddError($"{option.Name}: '{value}' is a file; give a folder to write the report into.");
        });
        return option;
    }

    /// <summary>The option's value, or false when its token does not parse (the parser reports that itself).</summary>
    private static bool TryValue(System.CommandLine.Parsing.OptionResult result, out int value)
    {
        try
        {
            value = result.GetValueOrDefault<int>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = 0;
            return false;
        }
    }
}
