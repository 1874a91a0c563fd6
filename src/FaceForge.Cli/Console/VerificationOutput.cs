using System.CommandLine;
using FaceForge.Evaluation;

namespace FaceForge.Cli;

/// <summary>Prints a verification report: text lines, or with --json the keys accuracy_mean, accuracy_std, threshold, tar_at_far, pairs, best_threshold, best_accuracy, fold_accuracies, seconds.</summary>
internal static class VerificationOutput
{
    public static void Print(ParseResult parse, VerificationReport result, double seconds, object? extra = null)
    {
        var writer = parse.InvocationConfiguration.Output;
        if (parse.GetValue<bool>("--json"))
        {
            JsonOutput.Write(writer, new
            {
                result.AccuracyMean, result.AccuracyStd, result.Threshold, result.TarAtFar, result.ImpostorPairs, result.Pairs, result.BestThreshold, result.BestAccuracy,
                result.FoldAccuracies, Seconds = Math.Round(seconds, 1), Extra = extra,
            });
            return;
        }
        writer.WriteLine($"accuracy {100 * result.AccuracyMean:0.00} ± {100 * result.AccuracyStd:0.00} % over {result.Pairs} pairs ({result.FoldAccuracies.Count} folds)");
        writer.WriteLine($"threshold {result.Threshold:0.0000} (best single {result.BestThreshold:0.0000}: {100 * result.BestAccuracy:0.00} %)");
        foreach (var (far, tar) in result.TarAtFar)
            writer.WriteLine(tar is double value ? $"TAR at FAR {far}: {100 * value:0.00} %" : $"TAR at FAR {far}: not measurable ({result.ImpostorPairs} impostor pairs, fewer than 1/FAR)");
        writer.WriteLine($"{seconds:0.0} s");
    }
}
