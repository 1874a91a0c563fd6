using System.CommandLine;
using System.Diagnostics;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench gallery`: a synthetic gallery (random unit vectors) searched exactly and through HNSW, against a
/// streaming read of the same bytes measured in the same run (the memory-bandwidth bound of an exact scan), plus
/// the enrolment rate into an SQLite gallery file.
/// </summary>
internal static class BenchGalleryCommand
{
    public static Command Create()
    {
        var faces = new Option<int>("--faces") { Description = "Gallery size (one subject per face).", DefaultValueFactory = _ => 1_000_000 }.AtLeast(10);
        var dimensions = new Option<int>("--dim") { Description = "Vector length.", DefaultValueFactory = _ => 512 }.Between(2, 4096);
        var queries = new Option<int>("--queries") { Description = "Probes (each a noisy copy, cosine about 0.8, of a random gallery face).", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var precision = new Option<string>("--precision") { Description = "float32 or float16.", DefaultValueFactory = _ => "float32" };
        precision.AcceptOnlyFromAmong("float32", "float16");
        var hnsw = new Option<bool>("--hnsw") { Description = "Also build the HNSW index and measure its recall@1 and speed-up (on unless --hnsw false).", DefaultValueFactory = _ => true };
        var enrollFaces = new Option<int>("--enroll-faces") { Description = "Faces enrolled into a temporary SQLite gallery for the enrolment rate (0 skips it).", DefaultValueFactory = _ => 100_000 }.AtLeast(0);
        var batch = new Option<int>("--batch") { Description = "Faces per enrolment transaction.", DefaultValueFactory = _ => 1000 }.AtLeast(1);
        var efSearch = new Option<int[]>("--ef-search") { Description = "HNSW search beams, each also the number of candidates re-ranked exactly; several (comma-separated) are measured on one built graph.", DefaultValueFactory = _ => [new GalleryOpenOptions().HnswExpansionSearch], CustomParser = ParseList };
        var connectivity = new Option<int>("--connectivity") { Description = "HNSW graph degree.", DefaultValueFactory = _ => new GalleryOpenOptions().HnswConnectivity }.Between(2, 256);
        var graphVectors = new Option<string>("--graph-vectors") { Description = "What the HNSW graph keeps of each face: int8 copies or sign bits (binary, Hamming).", DefaultValueFactory = _ => "int8" }.AcceptOnlyFromAmong("int8", "binary");
        var efAdd = new Option<int>("--ef-add") { Description = "HNSW beam while building.", DefaultValueFactory = _ => new GalleryOpenOptions().HnswExpansionAdd }.Between(1, 4096);
        var graphFile = new Option<FileInfo?>("--graph-file") { Description = "Keep the HNSW graph in this file: loaded when it holds this run's gallery and settings, else built and saved there (the graph a gallery file keeps beside it); the JSON then also times loading it back." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("gallery", "Gallery search: exact ms/query vs a streaming read of the same bytes, HNSW recall@1 and speed-up, SQLite enrolment rows/s.")
        {
            faces, dimensions, queries, precision, hnsw, efSearch, connectivity, graphVectors, efAdd, graphFile, enrollFaces, batch, json,
        };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(faces), dim = parse.GetValue(dimensions), q = parse.GetValue(queries), size = parse.GetValue(batch);
            var kind = parse.GetValue(precision) == "float16" ? GalleryPrecision.Float16 : GalleryPrecision.Float32;
            var error = parse.InvocationConfiguration.Error;
            const int seed = 7;
            var model = GalleryEnrollSyntheticCommand.Model(dim);
            var header = new GalleryHeader(model, new GalleryOptions { Precision = kind, HnswAbove = int.MaxValue }, null, null);
            var saved = parse.GetValue(graphFile);
            // The identity names the synthetic data, so a graph saved by a run with other vectors is rebuilt.
            var graph = saved is null ? null : new HnswGraphFile(saved.FullName, $"bench-gallery synthetic v1 seed {seed} faces {n} dim {dim} {kind}");
            // Checked before a build that may take an hour, whose graph would otherwise have nowhere to go.
            if (saved is not null && !Directory.Exists(saved.DirectoryName))
                throw new UserErrorException($"--graph-file '{saved.FullName}': the folder '{saved.DirectoryName}' does not exist; create it first.");
            if (graph is not null && !graph.MayWrite())
                throw new UserErrorException($"--graph-file '{saved!.FullName}' exists and is not a graph this command saved (no FaceForge manifest '{saved.FullName}.json' beside it): it is never overwritten; choose another path.");
            var store = new MemoryGalleryStore(header) { GraphFile = graph };
            var clock = Stopwatch.StartNew();
            var gallery = FaceGallery.Open(store);
            for (int start = 0; start < n; start += 10_000)
                gallery.Enroll(Enumerable.Range(start, Math.Min(10_000, n - start)).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(seed, i, dim))).ToList());
            double fillSeconds = clock.Elapsed.TotalSeconds;
            error.WriteLine($"filled {n} x {dim} {kind} in {fillSeconds:0.0} s");
            var random = new Random(11);
            var targets = Enumerable.Range(0, q).Select(_ => (long)random.Next(n)).ToArray();
            var probes = targets.Select(t => SyntheticEmbeddings.Near(seed, t, dim, 0.75f, 1000 + (int)(t % 1000))).ToArray();

            // Warm up, then alternate streaming reads and exact searches so both see the same machine state.
            gallery.Identify(probes[0], 1);
            long sink = gallery.Exact.StreamingRead();
            var stream = new List<double>();
            var exact = new List<double>();
            var truth = new long[q];
            for (int i = 0; i < q; i++)
            {
                clock.Restart();
                sink += gallery.Exact.StreamingRead();
                stream.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                truth[i] = gallery.Identify(probes[i], 1).Best!.FaceId;
                exact.Add(clock.Elapsed.TotalMilliseconds);
            }
            double streamMs = Median(stream), exactMs = Median(exact);
            double bytes = (double)n * dim * (kind == GalleryPrecision.Float16 ? 2 : 4);
            int mated = targets.Where((t, i) => truth[i] == t + 1).Count(); // face ids start at 1
            error.WriteLine($"exact {exactMs:0.00} ms/query, streaming read {streamMs:0.00} ms ({bytes / streamMs / 1e6:0.0} GB/s), sink {sink & 1}");

            double? buildSeconds = null, exactAfterMs = null, loadSeconds = null;
            string? graphSource = null;
            var beamTimes = new List<(int Beam, double Ms, double Recall)>();
            if (parse.GetValue(hnsw))
            {
                gallery.Dispose();
                clock.Restart();
                int[] beams = parse.GetValue(efSearch)!;
                // The smallest beam at construction: a search for k candidates widens USearch's beam to k.
                var graphOptions = new GalleryOpenOptions
                {
                    ForceHnsw = true, HnswExpansionSearch = beams.Min(), HnswCandidates = beams.Min(),
                    HnswConnectivity = parse.GetValue(connectivity), HnswExpansionAdd = parse.GetValue(efAdd),
                    HnswVectors = parse.GetValue(graphVectors) == "binary" ? HnswVectors.Binary : HnswVectors.Int8,
                };
                gallery = FaceGallery.Open(store, graphOptions);
                gallery.PrepareIndex();
                graphSource = gallery.HnswSource;
                double openSeconds = clock.Elapsed.TotalSeconds;
                if (graphSource == "built") buildSeconds = openSeconds; // with --graph-file, saving it too
                else loadSeconds = openSeconds;
                error.WriteLine(graphSource == "built"
                    ? $"HNSW built over {gallery.HnswCount} faces in {openSeconds:0.0} s ({gallery.HnswCount / openSeconds:0} faces/s, {Environment.ProcessorCount} threads)"
                    : $"HNSW graph over {gallery.HnswCount} faces {graphSource} from {saved?.FullName} in {openSeconds:0.0} s");
                foreach (int beam in beams)
                {
                    gallery.HnswCandidates = beam;
                    gallery.Identify(probes[0], 1);
                    var times = new List<double>();
                    int hits = 0;
                    for (int i = 0; i < q; i++)
                    {
                        clock.Restart();
                        long found = gallery.Identify(probes[i], 1).Best!.FaceId;
                        times.Add(clock.Elapsed.TotalMilliseconds);
                        if (found == truth[i]) hits++;
                    }
                    double ms = Median(times);
                    beamTimes.Add((beam, ms, hits / (double)q));
                    error.WriteLine($"HNSW beam {beam}: recall@1 {hits / (double)q:0.000}, {ms:0.000} ms/query");
                }
                // The exact scan again (the same top-16 scan Identify runs without a graph), after the graph's searches:
                // speed-ups count against the faster of the two exact timings, so a noisy spell during the first
                // cannot inflate them.
                var again = new List<double>();
                for (int i = 0; i < q; i++)
                {
                    clock.Restart();
                    sink += gallery.ExactNearest(probes[i], 16)[0];
                    again.Add(clock.Elapsed.TotalMilliseconds);
                }
                exactAfterMs = Median(again);
                error.WriteLine($"exact again after the HNSW searches: {exactAfterMs:0.00} ms/query");
                if (saved is not null && graphSource == "built")
                {
                    // What the next open pays instead of the build: the hash check and USearch's load.
                    gallery.Dispose();
                    clock.Restart();
                    gallery = FaceGallery.Open(store, graphOptions);
                    gallery.PrepareIndex();
                    loadSeconds = clock.Elapsed.TotalSeconds;
                    error.WriteLine(gallery.HnswSource == "loaded"
                        ? $"HNSW graph loaded back from {saved.FullName} in {loadSeconds:0.0} s"
                        : $"HNSW graph could not be saved to or loaded from {saved.FullName}: {gallery.HnswSource} again in {loadSeconds:0.0} s");
                    if (gallery.HnswSource != "loaded") loadSeconds = null;
                }
            }
            double exactRef = Math.Min(exactMs, exactAfterMs ?? exactMs);
            var sweep = beamTimes.Select(t => new { EfSearch = t.Beam, MsPerQuery = Math.Round(t.Ms, 4), RecallAt1 = t.Recall, Speedup = Math.Round(exactRef / t.Ms, 1) }).ToList();
            foreach (var t in beamTimes) error.WriteLine($"HNSW beam {t.Beam}: recall@1 {t.Recall:0.000}, {exactRef / t.Ms:0.0}x exact ({exactRef:0.00} ms)");
            gallery.Dispose();

            double? rowsPerSecond = null;
            int enrol = parse.GetValue(enrollFaces);
            if (enrol > 0)
            {
                string dir = Path.Combine(Path.GetTempPath(), $"faceforge-bench-gallery-{Guid.NewGuid():N}");
                Directory.CreateDirectory(dir);
                try
                {
                    using var file = FaceGallery.Create(Path.Combine(dir, "bench.gallery"), model, header.Options);
                    var batches = new List<List<GalleryFace>>();
                    for (int start = 0; start < enrol; start += size)
                        batches.Add(Enumerable.Range(start, Math.Min(size, enrol - start)).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(seed, i, dim))).ToList());
                    clock.Restart();
                    foreach (var items in batches) file.Enroll(items);
                    rowsPerSecond = enrol / clock.Elapsed.TotalSeconds;
                    error.WriteLine($"SQLite enrolment: {rowsPerSecond:0} rows/s ({size} per transaction)");
                }
                finally
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
            var result = new
            {
                Faces = n,
                Dim = dim,
                Precision = kind.ToString().ToLowerInvariant(),
                Queries = q,
                ExactMsPerQuery = Math.Round(exactMs, 3),
                StreamingReadMs = Math.Round(streamMs, 3),
                ExactOverStreaming = Math.Round(exactMs / streamMs, 3),
                ExactAfterHnswMsPerQuery = exactAfterMs is double after ? Math.Round(after, 3) : (double?)null,
                StreamingGBPerS = Math.Round(bytes / streamMs / 1e6, 2),
                ExactRecallOfMate = mated / (double)q,
                HnswConnectivity = parse.GetValue(connectivity),
                HnswGraphVectors = parse.GetValue(graphVectors),
                HnswEfAdd = parse.GetValue(efAdd),
                HnswBuildS = buildSeconds is double b ? Math.Round(b, 1) : (double?)null,
                HnswGraph = graphSource,
                HnswLoadS = loadSeconds is double l ? Math.Round(l, 1) : (double?)null,
                HnswBuildThreads = Environment.ProcessorCount,
                Hnsw = sweep,
                SqliteEnrollRowsPerS = rowsPerSecond is double r ? Math.Round(r) : (double?)null,
                SqliteBatch = size,
                SqliteFaces = enrol,
                SearchThreads = 1,
            };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else writer.WriteLine(result);
            return 0;
        });
        return command;
    }

    private static int[] ParseList(System.CommandLine.Parsing.ArgumentResult result)
    {
        var values = new List<int>();
        foreach (var token in result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            if (!int.TryParse(token, out int value) || value < 1)
            {
                result.AddError($"--ef-search: '{token}' is not a whole number of at least 1.");
                return [];
            }
            values.Add(value);
        }
        if (values.Count == 0) result.AddError("--ef-search needs at least one value.");
        return values.ToArray();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
