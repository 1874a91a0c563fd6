namespace FaceForge.Evaluation;

/// <summary>
/// Builds an LFW-style protocol over an identity-labelled image list: identities are split into folds (so folds are
/// identity-disjoint, as LFW's are) and each fold gets equally many same-identity and different-identity pairs.
/// </summary>
public static class PairBuilder
{
    /// <summary>Pairs over items (image key, identity); deterministic for a seed.</summary>
    /// <param name="items">Images with their identities.</param>
    /// <param name="folds">Identity-disjoint folds.</param>
    /// <param name="pairsPerClassPerFold">Same-identity pairs per fold, and as many different-identity ones.</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <param name="distinct">
    /// Draw no pair twice in a fold: where a fold holds fewer distinct pairs than asked, it takes as many of each kind
    /// as the scarcer kind holds. Without it pairs are drawn with replacement (the demo's draw, kept so its
    /// published figures repeat), so a small set counts some pairs twice.
    /// </param>
    public static IReadOnlyList<VerificationPair> Build(IReadOnlyList<(string Image, int Identity)> items, int folds, int pairsPerClassPerFold, int seed, bool distinct = false)
    {
        var random = new Random(seed);
        // In distinct mode an image listed twice counts once (the caps below count images).
        var byIdentity = items.GroupBy(i => i.Identity).Select(g => (distinct ? g.Select(x => x.Image).Distinct() : g.Select(x => x.Image)).ToArray()).Where(g => g.Length > 0).ToArray();
        random.Shuffle(byIdentity);
        if (byIdentity.Length < 2 * folds) throw new ArgumentException($"Need at least {2 * folds} identities for {folds} folds (got {byIdentity.Length}).");
        var pairs = new List<VerificationPair>();
        for (int f = 0; f < folds; f++)
        {
            var group = byIdentity.Where((_, i) => i % folds == f).ToArray();
            var multi = group.Where(g => g.Length >= 2).ToArray();
            if (multi.Length == 0) throw new ArgumentException("Every fold needs an identity with at least two images.");
            int count = pairsPerClassPerFold;
            var drawn = new HashSet<(string, string)>();
            if (distinct)
            {
                long genuineAvailable = multi.Sum(g => (long)g.Length * (g.Length - 1) / 2);
                long images = group.Sum(g => (long)g.Length);
                long impostorAvailable = images * (images - 1) / 2 - group.Sum(g => (long)g.Length * (g.Length - 1) / 2);
                count = (int)Math.Min(count, Math.Min(genuineAvailable, impostorAvailable));
            }
            // Redraws only in distinct mode, and only while fewer than all the fold's pairs are taken (count is capped
            // by what exists), so the loops end; a budget of draws ends them too where one image is listed under two
            // identities (the caps then count pairs that are not there; past the budget a repeat is let through).
            long budget = 1000L + 100L * count;
            bool Fresh(string a, string b) => !distinct || drawn.Add(string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a)) || --budget <= 0;
            for (int k = 0; k < count; k++)
            {
                var g = multi[random.Next(multi.Length)];
                int a = random.Next(g.Length), b = (a + 1 + random.Next(g.Length - 1)) % g.Length;
                if (Fresh(g[a], g[b])) pairs.Add(new VerificationPair(g[a], g[b], true, f));
                else k--;
            }
            for (int k = 0; k < count; k++)
            {
                int x = random.Next(group.Length), y = (x + 1 + random.Next(group.Length - 1)) % group.Length;
                string first = group[x][random.Next(group[x].Length)], second = group[y][random.Next(group[y].Length)];
                if (Fresh(first, second)) pairs.Add(new VerificationPair(first, second, false, f));
                else k--;
            }
        }
        return pairs;
    }
}
