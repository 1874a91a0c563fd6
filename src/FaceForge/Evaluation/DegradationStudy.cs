using FaceForge.Occlusion;
using FaceForge.Alignment;
using FaceForge.Embedding;
using FaceForge.Imaging;
using FaceForge.Models;

namespace FaceForge.Evaluation;

/// <summary>One degradation at one severity: what the model's quality and verification made of it.</summary>
/// <param name="Degradation">The degradation, or null for the clean images.</param>
/// <param name="MeanQuality">Mean quality over every image (null when the model carries none).</param>
/// <param name="AccuracyCosine">k-fold verification accuracy with the second image of each pair degraded, cosine score.</param>
/// <param name="AccuracyMls">The same with the mutual likelihood score (models with an uncertainty head), or null.</param>
public sealed record DegradationResult(Degradation? Degradation, double? MeanQuality, double AccuracyCosine, double? AccuracyMls);

/// <summary>Rank-1 with templates of one clean and one degraded image per identity.</summary>
/// <param name="Degradation">The degradation of the templates' second image.</param>
/// <param name="Rank1Mean">Rank-1 with mean templates.</param>
/// <param name="Rank1Fused">Rank-1 with PFE-fused templates, or null without an uncertainty head.</param>
/// <param name="Identities">Identities enrolled.</param>
/// <param name="Probes">Clean probes scored.</param>
/// <param name="Rank1MeanMls">Rank-1 with mean templates (variances averaged) scored by mutual likelihood, or null without an uncertainty head.</param>
/// <param name="Rank1FusedMls">Rank-1 with fused templates scored by mutual likelihood with the fused variance (PFE's template matching), or null.</param>
public sealed record MixedTemplateResult(Degradation Degradation, double Rank1Mean, double? Rank1Fused, int Identities, int Probes, double? Rank1MeanMls = null, double? Rank1FusedMls = null);

/// <summary>
/// The study's degradations shared out, as real comparisons mix qualities: verification in which the pairs' second
/// images carry every degradation in turn (pair k the k-th mod their number), and identification with templates of one
/// clean and one degraded image whose degradation goes round the same way over the identities.
/// </summary>
/// <param name="AccuracyCosine">k-fold verification accuracy, cosine score.</param>
/// <param name="AccuracyMls">The same with the mutual likelihood score, or null without an uncertainty head.</param>
/// <param name="Degradations">How many degradations are shared out.</param>
/// <param name="Rank1Mean">Rank-1 with mean templates (clean probes), or null when fewer than two identities have three images.</param>
/// <param name="Rank1Fused">Rank-1 with PFE-fused templates, or null without an uncertainty head.</param>
/// <param name="Identities">Identities enrolled.</param>
/// <param name="Probes">Clean probes scored.</param>
/// <param name="Rank1MeanMls">Rank-1 with mean templates scored by mutual likelihood, or null without an uncertainty head.</param>
/// <param name="Rank1FusedMls">Rank-1 with fused templates scored by mutual likelihood, or null without an uncertainty head.</param>
public sealed record MixedResult(double AccuracyCosine, double? AccuracyMls, int Degradations, double? Rank1Mean = null, double? Rank1Fused = null, int Identities = 0, int Probes = 0,
    double? Rank1MeanMls = null, double? Rank1FusedMls = null);

/// <summary>The outcome of <see cref="DegradationStudy.Run"/>.</summary>
/// <param name="Results">The clean images first, then every degradation and severity.</param>
/// <param name="Spearman">Per degradation kind, Spearman's rank correlation between severity (0 = clean) and mean quality; null without quality.</param>
/// <param name="Identification">Mixed-template identification per degradation kind (at its strongest severity).</param>
/// <param name="Examples">The first image's aligned crop under each entry of <paramref name="Results"/>, in the same order (to look at).</param>
/// <param name="Mixed">Verification with the degradations shared out over the pairs, or null when fewer than two were studied.</param>
public sealed record DegradationReport(IReadOnlyList<DegradationResult> Results, IReadOnlyDictionary<string, double?> Spearman, IReadOnlyList<MixedTemplateResult> Identification,
    IReadOnlyList<RgbImage> Examples, MixedResult? Mixed = null);

/// <summary>
/// How quality and verification respond to degraded photos: every image of the pairs embedded clean and under each
/// degradation (applied to the photo, then aligned by its landmarks); verification with the second image of each pair
/// degraded; identification with templates mixing a clean and a degraded image.
/// </summary>
/// <remarks>One run at a time per embedder (the embedder's own thread-safety applies).</remarks>
public sealed class DegradationStudy(VerificationProtocol protocol, Func<string, (RgbImage Photo, FaceLandmarks Landmarks)> loadPhoto, IReadOnlyList<MaskOverlay>? masks)
{
    /// <summary>Runs the study with <paramref name="degradations"/> (by default <see cref="Degradation.Study"/>); progress counts images embedded.</summary>
    public DegradationReport Run(IFaceEmbedder embedder, IReadOnlyList<Degradation>? degradations = null, IProgress<int>? progress = null)
    {
        degradations ??= Degradation.Study;
        var keys = protocol.Images;
        var template = embedder.Info.AlignmentTemplate;
        bool uncertain = embedder.Info.Quality == QualityKind.Uncertainty, hasQuality = embedder.Info.Quality != QualityKind.None;
        int done = 0;
        var examples = new List<RgbImage>();
        FaceEmbedding[] Embed(Degradation? d)
        {
            var (firstPhoto, firstLandmarks) = loadPhoto(keys[0]);
            examples.Add(FaceAligner.Align(d is null ? firstPhoto : d.Apply(firstPhoto, firstLandmarks, masks, 0), firstLandmarks, template));
            var faces = EmbeddingBatcher.EmbedAllFaces(embedder, Enumerable.Range(0, keys.Count).ToList(), i =>
            {
                var (photo, landmarks) = loadPhoto(keys[i]);
                var degraded = d is null ? photo : d.Apply(photo, landmarks, masks, i);
                return FaceAligner.Align(degraded, landmarks, template);
            }, FlipMode.None, 64, new Progress<int>(_ => { }));
            progress?.Report(done += keys.Count);
            return faces;
        }
        var clean = Embed(null);
        var index = keys.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
        var results = new List<DegradationResult>();
        var embedded = new Dictionary<Degradation, FaceEmbedding[]>();
        foreach (var d in new Degradation?[] { null }.Concat(degradations))
        {
            var faces = d is null ? clean : embedded[d] = Embed(d);
            results.Add(new DegradationResult(d, hasQuality ? faces.Average(f => f.Quality!.Value) : null, Verify(clean, faces, index, ComparisonScore.Cosine),
                uncertain ? Verify(clean, faces, index, ComparisonScore.MutualLikelihood) : null));
        }
        var spearman = degradations.GroupBy(d => d.Kind).ToDictionary(g => g.Key.ToString().ToLowerInvariant(), g =>
        {
            if (!hasQuality) return (double?)null;
            var levels = new[] { (Severity: 0, Quality: results[0].MeanQuality!.Value) }
                .Concat(g.Select(d => (Severity: d.Severity, Quality: results.First(r => r.Degradation == d).MeanQuality!.Value))).ToArray();
            return Spearman(levels.Select(l => (double)l.Severity).ToArray(), levels.Select(l => l.Quality).ToArray());
        });
        var identification = degradations.GroupBy(d => d.Kind).Select(g => g.MaxBy(d => d.Severity)!)
            .Select(d => MixedTemplates(clean, _ => embedded[d], uncertain) is { } r ? new MixedTemplateResult(d, r.Mean, r.Fused, r.Identities, r.Probes, r.MeanMls, r.FusedMls) : null)
            .Where(r => r is not null).Select(r => r!).ToList();
        MixedResult? mixed = null;
        if (degradations.Count >= 2)
        {
            // Pair k's (identity k's) second image under degradation k mod n: each degradation falls on as many pairs
            // (identities), give or take one.
            FaceEmbedding[] Second(int k) => embedded[degradations[k % degradations.Count]];
            var templates = MixedTemplates(clean, Second, uncertain);
            mixed = new MixedResult(Verify(clean, Second, index, ComparisonScore.Cosine),
                uncertain ? Verify(clean, Second, index, ComparisonScore.MutualLikelihood) : null, degradations.Count,
                templates?.Mean, templates?.Fused, templates?.Identities ?? 0, templates?.Probes ?? 0, templates?.MeanMls, templates?.FusedMls);
        }
        return new DegradationReport(results, spearman, identification, examples, mixed);
    }

    private double Verify(FaceEmbedding[] clean, FaceEmbedding[] degraded, Dictionary<string, int> index, ComparisonScore score) => Verify(clean, _ => degraded, index, score);

    /// <summary>Accuracy with each pair's first image clean and its second taken from <paramref name="second"/>(pair index).</summary>
    private double Verify(FaceEmbedding[] clean, Func<int, FaceEmbedding[]> second, Dictionary<string, int> index, ComparisonScore score)
    {
        var pairs = protocol.Pairs;
        var scores = pairs.Select((p, k) => Similarity.Compare(clean[index[p.First]], second(k)[index[p.Second]], score)).ToArray();
        return VerificationMetrics.Compute(scores, pairs.Select(p => p.IsSame).ToArray(), pairs.Select(p => p.Fold).ToArray(), protocol.Options.Folds).AccuracyMean;
    }

    /// <summary>
    /// Identities with at least three images: gallery = the first clean and the second from <paramref name="degraded"/>(the
    /// identity's ordinal); probes = the rest, clean. Null when fewer than two identities qualify.
    /// </summary>
    private (double Mean, double? Fused, int Identities, int Probes, double? MeanMls, double? FusedMls)? MixedTemplates(FaceEmbedding[] clean, Func<int, FaceEmbedding[]> degraded, bool uncertain)
    {
        var keys = protocol.Images;
        var byIdentity = Enumerable.Range(0, keys.Count).GroupBy(i => Path.GetDirectoryName(keys[i]) ?? "").Where(g => g.Count() >= 3).ToList();
        if (byIdentity.Count < 2) return null;
        var galleryIds = new List<string>();
        var gallery = new List<FaceEmbedding>();
        var probeIds = new List<string>();
        var probes = new List<FaceEmbedding>();
        foreach (var (g, ordinal) in byIdentity.Select((g, k) => (g, k)))
        {
            var images = g.ToArray();
            galleryIds.AddRange([g.Key, g.Key]);
            gallery.AddRange([clean[images[0]], degraded(ordinal)[images[1]]]);
            foreach (int i in images.Skip(2)) { probeIds.Add(g.Key); probes.Add(clean[i]); }
        }
        double Rank1(TemplateMode mode, ComparisonScore score = ComparisonScore.Cosine) =>
            IdentificationProtocol.Score(galleryIds, gallery, probeIds, probes, new IdentificationOptions { Templates = mode, Score = score }).Rank1;
        return (Rank1(TemplateMode.Mean), uncertain ? Rank1(TemplateMode.Fused) : null, byIdentity.Count, probes.Count,
            uncertain ? Rank1(TemplateMode.Mean, ComparisonScore.MutualLikelihood) : null, uncertain ? Rank1(TemplateMode.Fused, ComparisonScore.MutualLikelihood) : null);
    }

    /// <summary>Spearman's rank correlation (average ranks for ties).</summary>
    public static double Spearman(double[] x, double[] y)
    {
        static double[] Ranks(double[] v)
        {
            var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            var ranks = new double[v.Length];
            for (int s = 0; s < order.Length;)
            {
                int e = s;
                while (e + 1 < order.Length && v[order[e + 1]] == v[order[s]]) e++;
                for (int k = s; k <= e; k++) ranks[order[k]] = (s + e) / 2.0;
                s = e + 1;
            }
            return ranks;
        }
        var (rx, ry) = (Ranks(x), Ranks(y));
        double mx = rx.Average(), my = ry.Average();
        double cov = rx.Zip(ry).Sum(p => (p.First - mx) * (p.Second - my));
        double sx = Math.Sqrt(rx.Sum(v => (v - mx) * (v - mx))), sy = Math.Sqrt(ry.Sum(v => (v - my) * (v - my)));
        return sx == 0 || sy == 0 ? 0 : cov / (sx * sy);
    }
}
