using System.Globalization;
using FaceForge.Embedding;
using FaceForge.Gallery;
using FaceForge.Imaging;

namespace FaceForge.Evaluation;

/// <summary>What <see cref="LfwOpenSetProtocol.Run"/> measured.</summary>
/// <param name="Rank1">Mated probes whose best subject is their own.</param>
/// <param name="Rank5">Mated probes whose own subject is among the best five.</param>
/// <param name="Enrolled">Faces (= subjects) enrolled.</param>
/// <param name="MatedProbes">Probes of enrolled people.</param>
/// <param name="UnknownProbes">Probes of people not enrolled.</param>
/// <param name="DirAtFpir">Detection and identification rate at each false-positive identification rate: mated probes ranked first with a score above the threshold that lets that fraction of unknown probes through.</param>
/// <param name="ThresholdAtFpir">Those thresholds.</param>
/// <param name="Index">The gallery's index: exact or hnsw.</param>
public sealed record OpenSetReport(double Rank1, double Rank5, int Enrolled, int MatedProbes, int UnknownProbes,
    IReadOnlyDictionary<string, double?> DirAtFpir, IReadOnlyDictionary<string, double?> ThresholdAtFpir, string Index);

/// <summary>
/// LFW open-set identification through a <see cref="FaceGallery"/>: every person with two or more images enrolled
/// with their first image (1,680 people in LFW), their other images as mated probes, the people with one image
/// (4,069) as unknown probes.
/// </summary>
public static class LfwOpenSetProtocol
{
    /// <summary>The split of LFW-style relative paths (Person/Person_NNNN.jpg); images are ordered by name within a person.</summary>
    public sealed record Split(IReadOnlyList<(string Image, string Person)> Enrolled, IReadOnlyList<(string Image, string Person)> Mated, IReadOnlyList<string> Unknown);

    /// <summary>Splits <paramref name="relativePaths"/> by their identity folder.</summary>
    /// <exception cref="ArgumentException">A path is not inside an identity folder, or nobody has two images.</exception>
    public static Split SplitImages(IEnumerable<string> relativePaths)
    {
        var people = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string raw in relativePaths)
        {
            string path = raw.Replace('\\', '/');
            int slash = path.LastIndexOf('/');
            if (slash <= 0) throw new ArgumentException($"'{raw}' is not inside an identity folder (Person/Person_0001.jpg).");
            string person = path[..slash];
            if (!people.TryGetValue(person, out var images)) people[person] = images = [];
            images.Add(path);
        }
        var enrolled = new List<(string, string)>();
        var mated = new List<(string, string)>();
        var unknown = new List<string>();
        foreach (var (person, images) in people)
        {
            images.Sort(StringComparer.Ordinal);
            if (images.Count == 1) unknown.Add(images[0]);
            else
            {
                enrolled.Add((images[0], person));
                mated.AddRange(images.Skip(1).Select(i => (i, person)));
            }
        }
        if (enrolled.Count == 0) throw new ArgumentException("No person has two images: nothing to enrol and probe.");
        return new Split(enrolled, mated, unknown);
    }

    /// <summary>
    /// Embeds every image of <paramref name="split"/> with <paramref name="embedder"/> (crops from <paramref name="load"/>),
    /// enrols the gallery into <paramref name="gallery"/> (which must be empty) and identifies every probe.
    /// </summary>
    public static OpenSetReport Run(Split split, IFaceEmbedder embedder, Func<string, RgbImage> load, FaceGallery gallery, FlipMode flip = FlipMode.Add,
        IReadOnlyList<double>? fpirs = null, IProgress<int>? progress = null)
    {
        if (gallery.Count != 0) throw new ArgumentException("The open-set protocol needs an empty gallery.", nameof(gallery));
        fpirs ??= [0.01, 0.1];
        int done = 0;
        float[][] Embed(IReadOnlyList<string> images)
        {
            int start = done;
            var vectors = EmbeddingBatcher.EmbedAllFaces(embedder, images, load, flip, progress: progress is null ? null : new Offset(progress, start)).Select(f => f.Vector).ToArray();
            done += images.Count;
            return vectors;
        }
        var enrolledVectors = Embed(split.Enrolled.Select(e => e.Image).ToArray());
        // The graph (if any) first, so faces join it one by one in enrolment order: the same graph every run, where a
        // parallel build would differ from run to run.
        gallery.PrepareIndex();
        gallery.Enroll(split.Enrolled.Select((e, i) => new GalleryFace(e.Person, enrolledVectors[i], null, e.Image)).ToArray());
        var matedVectors = Embed(split.Mated.Select(m => m.Image).ToArray());
        var unknownVectors = Embed(split.Unknown);
        int rank1 = 0, rank5 = 0;
        var matedBest = new List<(bool Correct, double Score)>();
        for (int i = 0; i < matedVectors.Length; i++)
        {
            var matches = gallery.Identify(matedVectors[i], 5).Matches;
            int rank = matches.Select(m => m.Subject).ToList().IndexOf(split.Mated[i].Person);
            if (rank == 0) rank1++;
            if (rank >= 0) rank5++;
            matedBest.Add((rank == 0, matches[0].Score));
        }
        var unknownBest = unknownVectors.Select(v => gallery.Identify(v, 1).Matches[0].Score).ToArray();
        var dir = new Dictionary<string, double?>();
        var thresholds = new Dictionary<string, double?>();
        foreach (double fpir in fpirs)
        {
            string key = fpir.ToString(CultureInfo.InvariantCulture);
            if (unknownBest.Length * fpir < 1)
            {
                (dir[key], thresholds[key]) = (null, null);
                continue;
            }
            double threshold = ThresholdCalibration.CalibrateThreshold(unknownBest, fpir);
            thresholds[key] = threshold;
            dir[key] = matedBest.Count(m => m.Correct && m.Score > threshold) / (double)Math.Max(1, matedBest.Count);
        }
        return new OpenSetReport(rank1 / (double)Math.Max(1, matedVectors.Length), rank5 / (double)Math.Max(1, matedVectors.Length), split.Enrolled.Count,
            split.Mated.Count, split.Unknown.Count, dir, thresholds, gallery.IndexKind);
    }

    // Progress over all three embedding passes: each pass counts from where the previous one ended.
    private sealed class Offset(IProgress<int> inner, int start) : IProgress<int>
    {
        public void Report(int value) => inner.Report(start + value);
    }
}
