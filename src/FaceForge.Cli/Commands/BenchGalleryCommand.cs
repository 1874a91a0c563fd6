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
        var hnsw = new Option<bool>("--hnsw") { Description = "Also build the HNSW index and measure its recall@1 and speed-up.", DefaultValueFactory = _ => true };
        var enrollFaces = new Option<int>("--enroll-faces") { Description = "Faces enrolled into a temporary SQLite gallery for the enrolment rate (0 skips it).", DefaultValueFactory = _ => 100_000 }.AtLeast(0);
        var batch = new Option<int>("--batch") { Description = "Faces per enrolment transaction.", DefaultValueFactory = _ => 1000 }.AtLeast(1);
        var efSearch = new Option<int>("--ef-search") { Description = "HNSW search beam (and candidates re-ranked exactly).", DefaultValueFactory = _ => new GalleryOpenOptions().HnswExpansionSearch }.AtLeast(1);
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("gallery", "Gallery search: exact ms/query vs a streaming read of the same bytes, HNSW recall@1 and speed-up, SQLite enrolment rows/s.")
        {
            faces, dimensions, queries, precision, hnsw, efSearch, enrollFaces, batch, json,
        };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(faces), dim = parse.GetValue(dimensions), q = parse.GetValue(queries), size = parse.GetValue(batch);
            var kind = parse.GetValue(precision) == "float16" ? GalleryPrecision.Float16 : GalleryPrecision.Float32;
            var error = parse.InvocationConfiguration.Error;
            const int seed = 7;
            var model = GalleryEnrollSyntheticCommand.Model(dim);
            var header = new GalleryHeader(model, new GalleryOptions { Precision = kind, HnswAbove = int.MaxValue }, null, null);
            var store = new MemoryGalleryStore(header);
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

            double? buildSeconds = null, hnswMs = null, recall = null;
            if (parse.GetValue(hnsw))
            {
                gallery.Dispose();
                clock.Restart();
                int ef = parse.GetValue(efSearch);
                gallery = FaceGallery.Open(store, new GalleryOpenOptions { ForceHnsw = true, HnswExpansionSearch = ef, HnswCandidates = ef });
                buildSeconds = clock.Elapsed.TotalSeconds;
                error.WriteLine($"HNSW built over {gallery.HnswCount} faces in {buildSeconds:0.0} s");
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
                hnswMs = Median(times);
                recall = hits / (double)q;
            }
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
                StreamingGBPerS = Math.Round(bytes / streamMs / 1e6, 2),
                ExactRecallOfMate = mated / (double)q,
                HnswBuildS = buildSeconds is double b ? Math.Round(b, 1) : (double?)null,
                HnswMsPerQuery = hnswMs is double h ? Math.Round(h, 4) : (double?)null,
                HnswRecallAt1 = recall,
                HnswEfSearch = parse.GetValue(efSearch),
                HnswSpeedup = hnswMs is double hm ? Math.Round(exactMs / hm, 1) : (double?)null,
                SqliteEnrollRowsPerS = rowsPerSecond is double r ? Math.Round(r) : (double?)null,
                SqliteBatch = size,
                SqliteFaces = enrol,
                Threads = 1,
            };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else writer.WriteLine(result);
            return 0;
        });
        return command;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
