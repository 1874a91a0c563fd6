namespace FaceForge.Evaluation;

/// <summary>
/// Builds an LFW-style protocol over an identity-labelled image list: identities are split into folds (so folds are
/// identity-disjoint, as LFW's are) and each fold gets equally many same-identity and different-identity pairs.
/// </summary>
public static class PairBuilder
{
    /// <summary>Pairs over items (image key, identity); deterministic for a seed.</summary>
    public static IReadOnlyList<VerificationPair> Build(IReadOnlyList<(string Image, int Identity)> items, int folds, int pairsPerClassPerFold, int seed)
    {
        var random = new Random(seed);
        var byIdentity = items.GroupBy(i => i.Identity).Select(g => g.Select(x => x.Image).ToArray()).Where(g => g.Length > 0).ToArray();
        random.Shuffle(byIdentity);
        if (byIdentity.Length < 2 * folds) throw new ArgumentException($"Need at least {2 * folds} identities for {folds} folds (got {byIdentity.Length}).");
        var pairs = new List<VerificationPair>();
        for (int f = 0; f < folds; f++)
        {
            var group = byIdentity.Where((_, i) => i % folds == f).ToArray();
            var multi = group.Where(g => g.Length >= 2).ToArray();
            if (multi.Length == 0) throw new ArgumentException("Every fold needs an identity with at least two images.");
            for (int k = 0; k < pairsPerClassPerFold; k++)
            {
                var g = multi[random.Next(multi.Length)];
                int a = random.Next(g.Length), b = (a + 1 + random.Next(g.Length - 1)) % g.Length;
                pairs.Add(new VerificationPair(g[a], g[b], true, f));
            }
            for (int k = 0; k < pairsPerClassPerFold; k++)
            {
                int x = random.Next(group.Length), y = (x + 1 + random.Next(group.Length - 1)) % group.Length;
                pairs.Add(new VerificationPair(group[x][random.Next(group[x].Length)], group[y][random.Next(group[y].Length)], false, f));
            }
        }
        return pairs;
    }
}
