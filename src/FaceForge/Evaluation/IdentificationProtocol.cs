using System.Globalization;
using FaceForge.Embedding;
using FaceForge.Imaging;

namespace FaceForge.Evaluation;

/// <summary>Settings of <see cref="IdentificationProtocol"/>.</summary>
public sealed record IdentificationOptions
{
    /// <summary>Flip test. <value>The default is Add.</value></summary>
    public FlipMode Flip { get; init; } = FlipMode.Add;

    /// <summary>Crops per embedder call. <value>The default is 64.</value></summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>False-positive identification rates at which the detection-and-identification rate is reported. <value>The default is 0.01 and 0.1.</value></summary>
    public IReadOnlyList<double> Fpirs { get; init; } = [0.01, 0.1];

    /// <summary>How an identity's gallery images become its template. <value>Mean by default; Fused needs an uncertainty head.</value></summary>
    public TemplateMode Templates { get; init; } = TemplateMode.Mean;

    /// <summary>How a probe is scored against a template. <value>Cosine by default.</value></summary>
    public ComparisonScore Score { get; init; } = ComparisonScore.Cosine;
}

/// <summary>Results of 1:N identification.</summary>
public sealed record IdentificationReport
{
    /// <summary>Closed-set rank-1: the fraction of mated probes (identity enrolled) whose own template scores highest.</summary>
    public required double Rank1 { get; init; }

    /// <summary>Closed-set rank-5.</summary>
    public required double Rank5 { get; init; }

    /// <summary>Mated probes (their identity is in the gallery).</summary>
    public required int Probes { get; init; }

    /// <summary>Non-mated probes (their identity is not in the gallery): the open-set impostors.</summary>
    public required int UnknownProbes { get; init; }

    /// <summary>Gallery identities (one template each).</summary>
    public required int Identities { get; init; }

    /// <summary>
    /// Open-set detection-and-identification rate at each false-positive identification rate (keys such as "0.01"):
    /// the fraction of mated probes whose own template ranks first with a score above the threshold that at most that
    /// fraction of unknown probes exceed. Null where there are fewer than 1/FPIR unknown probes (not measurable).
    /// </summary>
    public required IReadOnlyDictionary<string, double?> DirAtFpir { get; init; }

    /// <summary>Why open-set figures are missing, or null.</summary>
    public string? OpenSetNote { get; init; }

    /// <summary>The DIR/FPIR curve (TPIR of identification against FPIR), by increasing FPIR.</summary>
    public required IReadOnlyList<(double Fpir, double Dir)> Curve { get; init; }
}

/// <summary>
/// 1:N identification: one template per gallery identity (the normalised mean of its images' embeddings); each
/// probe is compared with every template. Probes of enrolled identities give rank-k; probes of others are the
/// open-set impostors that set the thresholds of DIR at FPIR.
/// </summary>
/// <remarks>Immutable; thread-safe. The embedder is used from the calling thread only.</remarks>
public sealed class IdentificationProtocol
{
    /// <summary>Prepares the protocol: gallery and probe images, each an image key and an identity name.</summary>
    public IdentificationProtocol(IReadOnlyList<(string Image, string Identity)> gallery, IReadOnlyList<(string Image, string Identity)> probes, IdentificationOptions? options = null)
    {
        if (gallery.Count == 0) throw new ArgumentException("The gallery is empty.", nameof(gallery));
        if (probes.Count == 0) throw new ArgumentException("There are no probes.", nameof(probes));
        Gallery = gallery;
        Probes = probes;
        Options = options ?? new IdentificationOptions();
    }

    /// <summary>The gallery images.</summary>
    public IReadOnlyList<(string Image, string Identity)> Gallery { get; }

    /// <summary>The probe images.</summary>
    public IReadOnlyList<(string Image, string Identity)> Probes { get; }

    /// <summary>The settings.</summary>
    public IdentificationOptions Options { get; }

    /// <summary>Embeds gallery then probes (crops from <paramref name="loadCrop"/>) and scores them; progress counts images of both.</summary>
    public IdentificationReport Run(IFaceEmbedder embedder, Func<string, RgbImage> loadCrop, IProgress<int>? progress = null)
    {
        bool needsVariance = Options.Templates == TemplateMode.Fused || Options.Score == ComparisonScore.MutualLikelihood;
        if (needsVariance && embedder.Info.Quality != Models.QualityKind.Uncertainty)
            throw new ArgumentException($"Fused templates and the mutual likelihood score need a model with an uncertainty head; '{embedder.Info.Architecture}' carries quality '{embedder.Info.Quality}'.");
        var keys = Gallery.Select(g => g.Image).Concat(Probes.Select(p => p.Image)).ToList();
        var faces = EmbeddingBatcher.EmbedAllFaces(embedder, keys, loadCrop, Options.Flip, Options.BatchSize, progress);
        return Score(Gallery.Select(g => g.Identity).ToList(), faces[..Gallery.Count], Probes.Select(p => p.Identity).ToList(), faces[Gallery.Count..], Options);
    }

    /// <summary>The report from embeddings: gallery identities and vectors, probe identities and vectors.</summary>
    public static IdentificationReport Score(IReadOnlyList<string> galleryIdentities, IReadOnlyList<float[]> galleryVectors,
        IReadOnlyList<string> probeIdentities, IReadOnlyList<float[]> probeVectors, IReadOnlyList<double>? fpirs = null)
    {
        static List<FaceEmbedding> Wrap(IReadOnlyList<float[]> vectors) => vectors.Select(v => new FaceEmbedding(v, 1, null, null)).ToList();
        return Score(galleryIdentities, Wrap(galleryVectors), probeIdentities, Wrap(probeVectors), new IdentificationOptions { Fpirs = fpirs ?? new IdentificationOptions().Fpirs });
    }

    /// <summary>
    /// The metrics from embeddings with their variances: templates built by <see cref="IdentificationOptions.Templates"/>
    /// and probes scored by <see cref="IdentificationOptions.Score"/>.
    /// </summary>
    public static IdentificationReport Score(IReadOnlyList<string> galleryIdentities, IReadOnlyList<FaceEmbedding> gallery,
        IReadOnlyList<string> probeIdentities, IReadOnlyList<FaceEmbedding> probes, IdentificationOptions options)
    {
        var fpirs = options.Fpirs;
        if (galleryIdentities.Count != gallery.Count || probeIdentities.Count != probes.Count)
            throw new ArgumentException("Need one identity per embedding.");
        var groups = Enumerable.Range(0, gallery.Count).GroupBy(i => galleryIdentities[i], StringComparer.Ordinal).ToArray();
        var names = groups.Select(g => g.Key).ToArray();
        var templates = groups.Select(g => TemplateFusion.Combine(g.Select(i => gallery[i]).ToList(), options.Templates)).ToArray();
        var index = names.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        var mated = new List<(bool Correct, double Score, int Rank)>();
        var unknown = new List<double>();
        for (int p = 0; p < probes.Count; p++)
        {
            var scores = templates.Select(t => Similarity.Compare(probes[p], t, options.Score)).ToArray();
            double top = scores.Max();
            if (!index.TryGetValue(probeIdentities[p], out int truth))
            {
                unknown.Add(top);
                continue;
            }
            int rank = 1 + scores.Count(s => s > scores[truth]);
            mated.Add((rank == 1, top, rank));
        }
        if (mated.Count == 0) throw new ArgumentException("No probe's identity is in the gallery: rank-k needs probes of enrolled identities.");
        unknown.Sort((a, b) => b.CompareTo(a));
        var dir = new Dictionary<string, double?>();
        foreach (double fpir in fpirs)
            dir[fpir.ToString(CultureInfo.InvariantCulture)] = unknown.Count * fpir < 1 ? null : Dir(mated, Threshold(unknown, fpir));
        var curve = new List<(double, double)>();
        for (int k = 0; k < unknown.Count; k++)
            if (k == unknown.Count - 1 || unknown[k + 1] < unknown[k]) // one point per distinct threshold
                curve.Add(((k + 1) / (double)unknown.Count, Dir(mated, unknown[k] - 1e-12)));
        return new IdentificationReport
        {
            Rank1 = mated.Count(m => m.Rank == 1) / (double)mated.Count,
            Rank5 = mated.Count(m => m.Rank <= 5) / (double)mated.Count,
            Probes = mated.Count, UnknownProbes = unknown.Count, Identities = names.Length, DirAtFpir = dir, Curve = curve,
            OpenSetNote = !dir.Values.Any(v => v is null) ? null
                : unknown.Count == 0 ? "no unknown probes (every probe's identity is in the gallery): open-set rates cannot be measured"
                : $"{unknown.Count} unknown probes: an FPIR below 1/{unknown.Count} cannot be measured",
        };
    }

    /// <summary>The score a probe must exceed so that at most <paramref name="fpir"/> of the unknown probes (sorted descending) do.</summary>
    private static double Threshold(List<double> unknownDescending, double fpir)
    {
        int allowed = (int)Math.Floor(fpir * unknownDescending.Count + 1e-9);
        return allowed >= unknownDescending.Count ? double.NegativeInfinity : unknownDescending[allowed];
    }

    private static double Dir(List<(bool Correct, double Score, int Rank)> mated, double threshold) =>
        mated.Count(m => m.Correct && m.Score > threshold) / (double)mated.Count;
}
