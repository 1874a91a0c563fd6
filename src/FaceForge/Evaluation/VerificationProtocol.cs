using FaceForge.Alignment;
using FaceForge.Embedding;
using FaceForge.Imaging;

namespace FaceForge.Evaluation;

/// <summary>Settings of <see cref="VerificationProtocol"/>.</summary>
public sealed record VerificationOptions
{
    /// <summary>Flip test. <value>The default is Add (InsightFace's).</value></summary>
    public FlipMode Flip { get; init; } = FlipMode.Add;

    /// <summary>Crops per embedder call. <value>The default is 64.</value></summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// Score only these folds, numbered from 0 as <see cref="VerificationPair.Fold"/> is (LfwPairs.ParseFolds turns
    /// the command line's 1-based "6-10" into 5-9); thresholds then come from the other scored folds. Null: all.
    /// </summary>
    public IReadOnlySet<int>? Folds { get; init; }

    /// <summary>How a pair is scored: cosine, or PFE's mutual likelihood (needs a model with an uncertainty head). <value>Cosine by default.</value></summary>
    public ComparisonScore Score { get; init; } = ComparisonScore.Cosine;
}

/// <summary>A verification run: the metrics and the per-pair scores they came from (for reports).</summary>
/// <param name="Report">Accuracy over folds, thresholds, TAR at FAR, ROC.</param>
/// <param name="Scores">Cosine similarity of each scored pair.</param>
/// <param name="Same">Whether each scored pair shows one person.</param>
/// <param name="Folds">Each scored pair's fold.</param>
public sealed record VerificationOutcome(VerificationReport Report, IReadOnlyList<double> Scores, IReadOnlyList<bool> Same, IReadOnlyList<int> Folds);

/// <summary>
/// The LFW verification protocol: embed every image the (selected folds') pairs name once, with the flip test,
/// score each pair by cosine similarity and judge each fold at the threshold that is best on the others.
/// </summary>
/// <remarks>Immutable; thread-safe. The embedder is used from the calling thread only.</remarks>
public sealed class VerificationProtocol
{
    /// <summary>Prepares the protocol over <paramref name="pairs"/> (image keys, fold numbers).</summary>
    public VerificationProtocol(IReadOnlyList<VerificationPair> pairs, VerificationOptions? options = null)
    {
        Options = options ?? new VerificationOptions();
        if (Options.BatchSize < 1) throw new ArgumentException($"Batch size must be at least 1 (got {Options.BatchSize}).", nameof(options));
        var present = pairs.Select(p => p.Fold).ToHashSet();
        if (Options.Folds?.FirstOrDefault(f => !present.Contains(f), -1) is int absent and >= 0)
            throw new ArgumentException($"Fold {absent + 1} is not among the pairs' folds (1-{present.DefaultIfEmpty(-1).Max() + 1}).");
        Pairs = pairs.Where(p => Options.Folds is null || Options.Folds.Contains(p.Fold)).ToList();
        if (Pairs.Count == 0) throw new ArgumentException("No pairs in the selected folds.");
        // A fold's threshold comes from the other folds; with one fold it would be chosen on the test pairs themselves.
        if (Pairs.Select(p => p.Fold).Distinct().Count() < 2)
            throw new ArgumentException($"Verification needs at least two folds (each fold is judged at the threshold that is best on the others); the selected pairs are all in fold {Pairs[0].Fold + 1}.");
        Images = Pairs.SelectMany(p => new[] { p.First, p.Second }).Distinct().ToList();
    }

    /// <summary>The settings.</summary>
    public VerificationOptions Options { get; }

    /// <summary>The scored pairs (those of the selected folds).</summary>
    public IReadOnlyList<VerificationPair> Pairs { get; }

    /// <summary>Every image key the scored pairs name, once, in order of first use.</summary>
    public IReadOnlyList<string> Images { get; }

    /// <summary>Embeds <see cref="Images"/> (crops from <paramref name="loadCrop"/>, decoded on worker threads) and scores the pairs.</summary>
    public VerificationOutcome Run(IFaceEmbedder embedder, Func<string, RgbImage> loadCrop, IProgress<int>? progress = null)
    {
        if (Options.Score == ComparisonScore.MutualLikelihood && embedder.Info.Quality != Models.QualityKind.Uncertainty)
            throw new ArgumentException($"The mutual likelihood score needs a model with an uncertainty head; '{embedder.Info.Architecture}' carries quality '{embedder.Info.Quality}' (add a head with faceforge train-uncertainty, or score with cosine).");
        return Score(EmbeddingBatcher.EmbedAllFaces(embedder, Images, loadCrop, Options.Flip, Options.BatchSize, progress));
    }

    /// <summary>Scores the pairs from unit-length embeddings of <see cref="Images"/> (cosine only), in order.</summary>
    public VerificationOutcome Score(IReadOnlyList<float[]> embeddings) =>
        Score(embeddings.Select(v => new FaceEmbedding(v, 1, null, null)).ToList());

    /// <summary>Scores the pairs from embeddings of <see cref="Images"/>, in order, with <see cref="VerificationOptions.Score"/>.</summary>
    public VerificationOutcome Score(IReadOnlyList<FaceEmbedding> embeddings)
    {
        if (embeddings.Count != Images.Count) throw new ArgumentException($"Need one embedding per image ({Images.Count}), got {embeddings.Count}.", nameof(embeddings));
        var index = Images.Select((key, i) => (key, i)).ToDictionary(x => x.key, x => x.i);
        var scores = Pairs.Select(p => Similarity.Compare(embeddings[index[p.First]], embeddings[index[p.Second]], Options.Score)).ToArray();
        var same = Pairs.Select(p => p.IsSame).ToArray();
        var folds = Pairs.Select(p => p.Fold).ToArray();
        return new VerificationOutcome(VerificationMetrics.Compute(scores, same, folds, Options.Folds), scores, same, folds);
    }

    /// <summary>The protocol over an InsightFace .bin set (images keyed by index), and the loader of its crops for <paramref name="template"/>.</summary>
    public static (VerificationProtocol Protocol, Func<string, RgbImage> Load) ForBin(VerificationBin set, string source, AlignmentTemplate template, VerificationOptions? options = null)
    {
        RgbImage Load(string key)
        {
            int i = int.Parse(key, System.Globalization.CultureInfo.InvariantCulture);
            return AlignedImageSource.Prepare(ImageDecoder.Decode(set.Images[i], $"{source} image {i}"), null, template);
        }
        return (new VerificationProtocol(set.Pairs, options), Load);
    }
}
