using FaceForge.Evaluation;
using Xunit;

namespace FaceForge.Tests;

public class VerificationMetricsTests
{
    [Fact]
    public void PerfectlySeparatedScoresGiveFullAccuracy()
    {
        var scores = new double[] { 0.9, 0.8, 0.1, 0.2, 0.85, 0.75, 0.0, 0.3 };
        var same = new[] { true, true, false, false, true, true, false, false };
        var folds = new[] { 0, 0, 0, 0, 1, 1, 1, 1 };
        var report = VerificationMetrics.Compute(scores, same, folds);
        Assert.Equal(1.0, report.AccuracyMean);
        Assert.Equal(0.0, report.AccuracyStd);
        Assert.InRange(report.Threshold, 0.3, 0.75);
        // Four impostor pairs cannot measure a rate of one in a thousand.
        Assert.Null(report.TarAtFar["1e-3"]);
        Assert.Equal(4, report.ImpostorPairs);
    }

    [Fact]
    public void ThresholdComesFromTheOtherFolds()
    {
        // Each fold is judged at the other's best threshold: fold 1 says ~0.65, which rejects fold 0's 0.6 genuine pair;
        // fold 0 says ~0.5, which accepts fold 1's 0.62 impostor. Judged on itself, each fold would be perfect.
        var scores = new double[] { 0.6, 0.9, 0.4, 0.3, 0.7, 0.8, 0.62, 0.1 };
        var same = new[] { true, true, false, false, true, true, false, false };
        var folds = new[] { 0, 0, 0, 0, 1, 1, 1, 1 };
        var report = VerificationMetrics.Compute(scores, same, folds);
        Assert.Equal(0.75, report.FoldAccuracies[0], 9);
        Assert.Equal(0.75, report.FoldAccuracies[1], 9);
        Assert.Equal(1.0, VerificationMetrics.Compute(scores, same, folds, new HashSet<int> { 1 }).FoldAccuracies.Single());
    }

    [Fact]
    public void TarAtFarCountsGenuinePairsAboveTheImpostorQuantile()
    {
        var scores = Enumerable.Range(0, 1000).Select(i => i / 1000.0).Concat(Enumerable.Range(0, 10).Select(i => 0.9995 - i * 0.2)).ToArray();
        var same = Enumerable.Repeat(false, 1000).Concat(Enumerable.Repeat(true, 10)).ToArray();
        var report = VerificationMetrics.Compute(scores, same, new int[scores.Length]);
        // Impostors top out at 0.999: only the one genuine pair above it is accepted at FAR 1e-3 (one impostor of 1000
        // allowed). FAR 1e-4 would need 10,000 impostor pairs: not measurable.
        Assert.Equal(0.1, report.TarAtFar["1e-3"]!.Value, 9);
        Assert.Null(report.TarAtFar["1e-4"]);
    }

    [Fact]
    public void PairBuilderMakesIdentityDisjointBalancedFolds()
    {
        var items = Enumerable.Range(0, 40).SelectMany(id => Enumerable.Range(0, 3).Select(k => ($"{id}/{k}", id))).ToList();
        var pairs = PairBuilder.Build(items, 10, 5, 1);
        Assert.Equal(100, pairs.Count);
        Assert.All(pairs.GroupBy(p => p.Fold), g => Assert.Equal(5, g.Count(p => p.IsSame)));
        var people = pairs.GroupBy(p => p.Fold).Select(g => g.SelectMany(p => new[] { p.First, p.Second }).Select(s => s.Split('/')[0]).ToHashSet()).ToList();
        for (int a = 0; a < 10; a++) for (int b = a + 1; b < 10; b++) Assert.Empty(people[a].Intersect(people[b]));
        Assert.All(pairs, p => Assert.Equal(p.IsSame, p.First.Split('/')[0] == p.Second.Split('/')[0]));
        Assert.All(pairs.Where(p => p.IsSame), p => Assert.NotEqual(p.First, p.Second));
    }

    [Fact]
    public void DistinctPairsAreNeverDrawnTwiceAndASmallFoldTakesWhatItHas()
    {
        // 22 people x 3 photos: folds of 2-3 people hold 6-9 distinct genuine pairs, fewer than the 30 asked.
        var items = Enumerable.Range(0, 22).SelectMany(id => Enumerable.Range(0, 3).Select(k => ($"{id}/{k}", id))).ToList();
        static (string, string) Key(VerificationPair p) => string.CompareOrdinal(p.First, p.Second) < 0 ? (p.First, p.Second) : (p.Second, p.First);
        var withReplacement = PairBuilder.Build(items, 10, 30, 0);
        Assert.True(withReplacement.Select(Key).Distinct().Count() < withReplacement.Count); // what the option is for
        var pairs = PairBuilder.Build(items, 10, 30, 0, distinct: true);
        Assert.Equal(pairs.Count, pairs.Select(Key).Distinct().Count());
        foreach (var fold in pairs.GroupBy(p => p.Fold))
        {
            int people = fold.SelectMany(p => new[] { p.First, p.Second }).Select(s => s.Split('/')[0]).Distinct().Count();
            Assert.Equal(3 * people, fold.Count(p => p.IsSame)); // every genuine pair of the fold, once
            Assert.Equal(fold.Count(p => p.IsSame), fold.Count(p => !p.IsSame));
        }
        // Where there are more pairs than asked, the count asked, still with no repeats; the same seed draws the same pairs.
        var many = Enumerable.Range(0, 40).SelectMany(id => Enumerable.Range(0, 10).Select(k => ($"{id}/{k}", id))).ToList();
        var large = PairBuilder.Build(many, 10, 30, 3, distinct: true);
        Assert.Equal(600, large.Count);
        Assert.Equal(600, large.Select(Key).Distinct().Count());
        Assert.Equal(large, PairBuilder.Build(many, 10, 30, 3, distinct: true));
    }
}
