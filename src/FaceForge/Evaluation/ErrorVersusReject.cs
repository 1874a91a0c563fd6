using System.Globalization;
using FaceForge.Embedding;

namespace FaceForge.Evaluation;

/// <summary>Settings of <see cref="ErrorVersusReject"/>.</summary>
public sealed record ErrorVersusRejectOptions
{
    /// <summary>The false match rates at which FNMR is reported. <value>1e-3 (the headline) and 1e-2.</value></summary>
    public IReadOnlyList<double> Fmrs { get; init; } = [1e-3, 1e-2];

    /// <summary>Fractions of genuine pairs rejected. <value>0 to 0.5 in steps of 0.05.</value></summary>
    public IReadOnlyList<double> RejectedFractions { get; init; } = Enumerable.Range(0, 11).Select(i => Math.Round(i * 0.05, 2)).ToArray();

    /// <summary>How pairs are scored. <value>Cosine.</value></summary>
    public ComparisonScore Score { get; init; } = ComparisonScore.Cosine;
}

/// <summary>One quality's error-versus-reject curves.</summary>
/// <param name="Rejected">The rejected fractions asked for (x).</param>
/// <param name="RejectedActual">The fractions of genuine pairs actually rejected: lower than asked where pairs tie at the cutoff quality (tied pairs are kept together, genuine and impostor alike).</param>
/// <param name="Fixed">Per FMR (invariant text, e.g. "0.001"): FNMR with the threshold fixed where the unrejected set has that FMR (ISO/IEC 29794-1's error-versus-discard).</param>
/// <param name="Recomputed">Per FMR: FNMR with the threshold recomputed on the impostors that survive the rejection (MagFace's evaluation).</param>
/// <param name="AucFixed">Area under each fixed-threshold curve over the rejected range (trapezoids).</param>
/// <param name="AucRecomputed">Area under each recomputed-threshold curve.</param>
public sealed record ErrorVersusRejectCurve(IReadOnlyList<double> Rejected, IReadOnlyList<double> RejectedActual, IReadOnlyDictionary<string, double[]> Fixed, IReadOnlyDictionary<string, double[]> Recomputed,
    IReadOnlyDictionary<string, double> AucFixed, IReadOnlyDictionary<string, double> AucRecomputed);

/// <summary>The outcome of <see cref="ErrorVersusReject.Run"/>.</summary>
/// <param name="Curves">Per quality name, its curves.</param>
/// <param name="GenuinePairs">Genuine comparisons.</param>
/// <param name="ImpostorPairs">Impostor comparisons (every cross-identity pair of the images).</param>
/// <param name="Thresholds">Per FMR, the threshold of the unrejected set; only the FMRs the impostors can measure (at least one impostor pair at that rate), in the order asked.</param>
public sealed record ErrorVersusRejectReport(IReadOnlyDictionary<string, ErrorVersusRejectCurve> Curves, int GenuinePairs, long ImpostorPairs, IReadOnlyDictionary<string, double> Thresholds);

/// <summary>
/// Error-versus-reject (Grother and Tabassi; ISO/IEC 29794-1): how FNMR at a fixed FMR falls as the pairs of lowest
/// quality are rejected. A pair's quality is the lower of its two faces'. The rejected fraction counts genuine pairs:
/// the cutoff is the quality of the genuine pair at rank r (lowest first), and every pair, genuine or impostor, below
/// the cutoff is rejected (pairs tied at it are kept, so ties reject less than r: see RejectedActual). Impostors are
/// every cross-identity pair of the images, so low FMRs rest on millions of them.
/// </summary>
/// <remarks>Stateless and thread-safe; scoring runs on all cores.</remarks>
public static class ErrorVersusReject
{
    /// <summary>Computes the curves of every quality in <paramref name="qualities"/> (one value per image, higher is better).</summary>
    /// <param name="faces">One embedding per image.</param>
    /// <param name="identities">One identity per image: pairs of different identities are the impostors.</param>
    /// <param name="genuine">Genuine pairs as image indices (same identity).</param>
    /// <param name="qualities">Per quality name, one value per image.</param>
    /// <param name="options">FMRs, rejected fractions and the score.</param>
    public static ErrorVersusRejectReport Run(IReadOnlyList<FaceEmbedding> faces, IReadOnlyList<string> identities, IReadOnlyList<(int A, int B)> genuine,
        IReadOnlyDictionary<string, double[]> qualities, ErrorVersusRejectOptions? options = null)
    {
        options ??= new ErrorVersusRejectOptions();
        int n = faces.Count;
        if (identities.Count != n) throw new ArgumentException($"{identities.Count} identities for {n} faces.");
        if (genuine.Count == 0) throw new ArgumentException("There are no genuine pairs.");
        foreach (var (a, b) in genuine)
            if (a < 0 || b < 0 || a >= n || b >= n || identities[a] != identities[b] || a == b)
                throw new ArgumentException($"Genuine pair ({a}, {b}) is not two images of one identity.");
        foreach (var (name, values) in qualities)
        {
            if (values.Length != n) throw new ArgumentException($"Quality '{name}' has {values.Length} values for {n} images.");
            int bad = Array.FindIndex(values, double.IsNaN);
            if (bad >= 0) throw new ArgumentException($"Quality '{name}' of image {bad} is not a number.");
        }
        var genuineScores = genuine.Select(p => Similarity.Compare(faces[p.A], faces[p.B], options.Score)).ToArray();
        var impostors = Impostors(faces, identities, options.Score);
        if (impostors.Scores.Length == 0) throw new ArgumentException("Every image has the same identity: there are no impostor pairs.");
        // As eval verify's TAR at FAR: an FMR below one impostor pair of the whole set is not measured (left out of the
        // report), and a set too small for every FMR asked is an error rather than a curve of zeros.
        if (options.Fmrs.Count == 0) throw new ArgumentException("No false match rate asked for.", nameof(options));
        var fmrs = options.Fmrs.Where(f => impostors.Scores.Length * f >= 1 - 1e-9).ToList();
        if (fmrs.Count == 0)
            throw new ArgumentException($"{impostors.Scores.Length} impostor pairs cannot measure FMR {options.Fmrs.Max().ToString(CultureInfo.InvariantCulture)}: that needs at least {Math.Ceiling(1 / options.Fmrs.Max() - 1e-9):0} (impostors are every pair of images of different people: use more images or people).");
        var thresholds = fmrs.ToDictionary(Key, f => Threshold(impostors, f));
        var measured = options with { Fmrs = fmrs };
        var curves = qualities.ToDictionary(q => q.Key, q => Curve(q.Value, genuine, genuineScores, impostors, thresholds, measured));
        return new ErrorVersusRejectReport(curves, genuine.Count, impostors.Scores.Length, thresholds);
    }

    /// <summary>
    /// The point-wise mean of several curves (e.g. random qualities drawn with different seeds: one draw's curve
    /// wanders, since its rejections are nested; the mean is the floor a quality must beat).
    /// </summary>
    public static ErrorVersusRejectCurve Mean(IReadOnlyList<ErrorVersusRejectCurve> curves)
    {
        if (curves.Count == 0) throw new ArgumentException("No curves to average.", nameof(curves));
        var first = curves[0];
        Dictionary<string, double[]> Average(Func<ErrorVersusRejectCurve, IReadOnlyDictionary<string, double[]>> pick) =>
            pick(first).Keys.ToDictionary(k => k, k => Enumerable.Range(0, first.Rejected.Count).Select(i => curves.Average(c => pick(c)[k][i])).ToArray());
        Dictionary<string, double> AverageArea(Func<ErrorVersusRejectCurve, IReadOnlyDictionary<string, double>> pick) =>
            pick(first).Keys.ToDictionary(k => k, k => curves.Average(c => pick(c)[k]));
        return new ErrorVersusRejectCurve(first.Rejected, first.Rejected.Select((_, i) => curves.Average(c => c.RejectedActual[i])).ToArray(), Average(c => c.Fixed), Average(c => c.Recomputed), AverageArea(c => c.AucFixed), AverageArea(c => c.AucRecomputed));
    }

    private static string Key(double fmr) => fmr.ToString(CultureInfo.InvariantCulture);

    /// <summary>Impostor scores, sorted from highest, with their image indices.</summary>
    private sealed record ImpostorSet(float[] Scores, int[] First, int[] Second);

    private static ImpostorSet Impostors(IReadOnlyList<FaceEmbedding> faces, IReadOnlyList<string> identities, ComparisonScore score)
    {
        int n = faces.Count;
        var offsets = new long[n + 1];
        for (int i = 0; i < n; i++)
        {
            int count = 0;
            for (int j = i + 1; j < n; j++) if (identities[i] != identities[j]) count++;
            offsets[i + 1] = offsets[i] + count;
        }
        if (offsets[n] > Array.MaxLength) throw new ArgumentException($"{offsets[n]} impostor pairs are more than one array holds; use fewer images.");
        var scores = new float[offsets[n]];
        var first = new int[offsets[n]];
        var second = new int[offsets[n]];
        Parallel.For(0, n, i =>
        {
            long k = offsets[i];
            for (int j = i + 1; j < n; j++)
            {
                if (identities[i] == identities[j]) continue;
                scores[k] = (float)Similarity.Compare(faces[i], faces[j], score);
                first[k] = i;
                second[k++] = j;
            }
        });
        // Descending by score; the index arrays follow.
        var order = Enumerable.Range(0, scores.Length).ToArray();
        var keys = scores.Select(s => -s).ToArray();
        Array.Sort(keys, order);
        return new ImpostorSet(order.Select(o => scores[o]).ToArray(), order.Select(o => first[o]).ToArray(), order.Select(o => second[o]).ToArray());
    }

    /// <summary>The score above which at most <paramref name="fmr"/> of the kept impostors (pair quality at least <paramref name="cutoff"/>; all without qualities) lie.</summary>
    private static double Threshold(ImpostorSet impostors, double fmr, double[]? pairQuality = null, double cutoff = double.NegativeInfinity)
    {
        long total = pairQuality is null ? impostors.Scores.Length : pairQuality.Count(q => q >= cutoff);
        long allowed = (long)Math.Floor(fmr * total + 1e-9);
        long seen = 0;
        for (int k = 0; k < impostors.Scores.Length; k++)
        {
            if (pairQuality is not null && pairQuality[k] < cutoff) continue;
            if (seen == allowed) return impostors.Scores[k];
            seen++;
        }
        return double.NegativeInfinity;
    }

    private static ErrorVersusRejectCurve Curve(double[] quality, IReadOnlyList<(int A, int B)> genuine, double[] genuineScores, ImpostorSet impostors,
        Dictionary<string, double> thresholds, ErrorVersusRejectOptions options)
    {
        var pairQuality = genuine.Select(p => Math.Min(quality[p.A], quality[p.B])).ToArray();
        var impostorQuality = new double[impostors.Scores.Length];
        Parallel.For(0, impostorQuality.Length, k => impostorQuality[k] = Math.Min(quality[impostors.First[k]], quality[impostors.Second[k]]));
        // Lowest quality first; ties keep the pairs' order, so equal qualities are rejected in a fixed order.
        var order = Enumerable.Range(0, genuine.Count).OrderBy(i => pairQuality[i]).ToArray();
        var actual = new double[options.RejectedFractions.Count];
        var fixedCurves = options.Fmrs.ToDictionary(Key, _ => new double[options.RejectedFractions.Count]);
        var recomputed = options.Fmrs.ToDictionary(Key, _ => new double[options.RejectedFractions.Count]);
        for (int r = 0; r < options.RejectedFractions.Count; r++)
        {
            int rejected = (int)Math.Round(options.RejectedFractions[r] * genuine.Count);
            if (rejected >= genuine.Count) throw new ArgumentException($"Rejecting {options.RejectedFractions[r]:P0} of {genuine.Count} genuine pairs leaves none.");
            double cutoff = rejected == 0 ? double.NegativeInfinity : pairQuality[order[rejected]];
            var keptGenuine = order.Where(i => pairQuality[i] >= cutoff).ToArray();
            actual[r] = 1 - keptGenuine.Length / (double)genuine.Count;
            foreach (double fmr in options.Fmrs)
            {
                string key = Key(fmr);
                fixedCurves[key][r] = Fnmr(keptGenuine, genuineScores, thresholds[key]);
                recomputed[key][r] = Fnmr(keptGenuine, genuineScores, rejected == 0 ? thresholds[key] : Threshold(impostors, fmr, impostorQuality, cutoff));
            }
        }
        return new ErrorVersusRejectCurve(options.RejectedFractions, actual, fixedCurves, recomputed,
            fixedCurves.ToDictionary(c => c.Key, c => Area(options.RejectedFractions, c.Value)), recomputed.ToDictionary(c => c.Key, c => Area(options.RejectedFractions, c.Value)));
    }

    private static double Fnmr(int[] kept, double[] scores, double threshold) => kept.Count(i => scores[i] <= threshold) / (double)kept.Length;

    private static double Area(IReadOnlyList<double> x, double[] y)
    {
        double area = 0;
        for (int i = 1; i < x.Count; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
        return area;
    }
}
