namespace FaceForge.Evaluation;

/// <summary>
/// LFW's folds are identity-disjoint, so a training set can be cut from LFW itself: every person who appears in a
/// pair of a test fold is held out; everyone else (the people of the other folds and the people in no pair) trains.
/// </summary>
public static class LfwSplit
{
    /// <summary>The identity folder names under <paramref name="imagesRoot"/> that may be trained on.</summary>
    public static IReadOnlyList<string> TrainingIdentities(string imagesRoot, IReadOnlyList<VerificationPair> pairs, IReadOnlySet<int> testFolds)
    {
        var held = pairs.Where(p => testFolds.Contains(p.Fold)).SelectMany(p => new[] { p.First, p.Second }).Select(Person).ToHashSet(StringComparer.Ordinal);
        return Directory.GetDirectories(imagesRoot).Select(Path.GetFileName).OfType<string>()
            .Where(name => !held.Contains(name)).Order(StringComparer.Ordinal).ToList();
    }

    private static string Person(string relativePath) => relativePath.Split('/')[0];
}
