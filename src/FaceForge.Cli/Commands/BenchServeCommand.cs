using System.CommandLine;
using System.Diagnostics;
using FaceForge.Gallery;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Pipeline;
using FaceForge.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge bench serve`: the service under load on loopback. A gallery of synthetic faces (enrolled directly)
/// plus real ones, the service started in this process, N clients sending a mix of identify, verify and enrol
/// requests for a fixed time; then p50/p99 per kind, throughput, errors, memory at start and end, enrolments checked
/// against the gallery file, and the offline batched pipeline's images/s on the same photos measured just before.
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Recognition model, ONNX.", Required = true };
        var detector = new Option<string>("--detector") { Description = "Detector with landmarks, ONNX.", Required = true };
        var images = new Option<string>("--images") { Description = "A folder of identity folders of photos (LFW): probes, verify pairs and enrolments.", Required = true };
        var faces = new Option<int>("--faces") { Description = "Synthetic faces enrolled directly into the gallery.", DefaultValueFactory = _ => 100_000 }.AtLeast(0);
        var real = new Option<int>("--real") { Description = "Real people enrolled from --images (their first photo).", DefaultValueFactory = _ => 50 }.AtLeast(1);
        var clients = new Option<int>("--clients") { Description = "Concurrent clients.", DefaultValueFactory = _ => 16 }.Between(1, 256);
        var seconds = new Option<int>("--seconds") { Description = "Load duration.", DefaultValueFactory = _ => 60 }.Between(1, 3600);
        var maxRequests = new Option<int>("--max-requests") { Description = "Stop after this many measured requests even before the time is up (the warm-up is bounded by its time).", DefaultValueFactory = _ => 1_000_000 }.AtLeast(1);
        var identifyOnly = new Option<bool>("--identify-only") { Description = "Every request an identification (the service's identify images/s against the offline pipeline's), instead of the 70/20/10 mix." };
        var warmup = new Option<int>("--warmup-seconds") { Description = "The same load first, not counted, so that memory at start is the service's working size.", DefaultValueFactory = _ => 30 }.Between(0, 3600);
        var work = new Option<string?>("--work") { Description = "Folder for the gallery file (a temporary one by default; removed afterwards)." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("serve", "The service under load on loopback: mixed identify/verify/enrol from N clients for T seconds against a gallery of synthetic plus real faces; p50/p99, throughput, errors, memory, lost enrolments, and the offline pipeline's images/s side by side.")
        {
            model, detector, images, faces, real, clients, seconds, warmup, maxRequests, identifyOnly, work, json,
        };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(detector)!, parse.GetValue(images)!, parse.GetValue(faces), parse.GetValue(real),
            parse.GetValue(clients), parse.GetValue(warmup), parse.GetValue(seconds), parse.GetValue(maxRequests), parse.GetValue(identifyOnly), parse.GetValue(work), parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(string modelPath, string detectorPath, string imagesDir, int syntheticFaces, int realPeople, int clientCount, int warmupSeconds, int seconds, int maxRequests, bool identifyOnly, string? workDir, bool json, TextWriter output, TextWriter log)
    {
        if (!Directory.Exists(imagesDir)) throw new UserErrorException($"--images: '{imagesDir}' is not a folder.");
        modelPath = Path.GetFullPath(modelPath);
        detectorPath = Path.GetFullPath(detectorPath);
        string dir = workDir ?? Path.Combine(Path.GetTempPath(), $"faceforge-bench-serve-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        string galleryPath = Path.Combine(dir, "bench.gallery");
        try
        {
            // Photos: people with two or more images; the first of each is enrolled (real), the others are probes.
            var people = Directory.GetDirectories(imagesDir).Order(StringComparer.Ordinal)
                .Select(d => Directory.GetFiles(d).Order(StringComparer.Ordinal).ToArray()).Where(f => f.Length >= 2).Take(realPeople).ToList();
            if (people.Count == 0) throw new UserErrorException($"--images: '{imagesDir}' has no identity folder with two or more images.");
            var probes = people.SelectMany(p => p.Skip(1).Take(4)).Select(File.ReadAllBytes).ToArray();
            var enrolPhotos = people.Select(p => File.ReadAllBytes(p[0])).ToArray();

            // Offline reference: the batched pipeline on the same probe photos (decode + detect + align + embed).
            double offlineImagesPerSecond;
            ModelInfo info;
            string fingerprint = ModelFingerprint.Of(modelPath);
            var realFaces = new List<GalleryFace>();
            using (var pipeline = new FaceModels().OpenPipeline(detectorPath, modelPath))
            {
                info = pipeline.Embedder.Info;
                for (int i = 0; i < people.Count; i++)
                {
                    var found = pipeline.Pipeline.Analyse(ImageDecoder.Decode(enrolPhotos[i], people[i][0]));
                    if (found.Count > 0) realFaces.Add(new GalleryFace(Path.GetFileName(Path.GetDirectoryName(people[i][0]))!, found.MaxBy(f => f.Face.Box.Area)!.Embedding));
                }
                // Keep the photos whose largest face passes the service's enrolment gate, so that every request of
                // the load is one the service should answer with success (this also warms the models up).
                var gate = new FaceServerOptions { Galleries = new Dictionary<string, string>(), ModelPath = modelPath, DetectorPath = detectorPath };
                probes = probes.Where(b => pipeline.Pipeline.Analyse(ImageDecoder.Decode(b, "probe")).MaxBy(f => f.Face.Box.Area) is { } face
                    && face.InterOcularPixels >= gate.MinInterOcularPixels && MathF.Abs(face.Yaw) <= gate.MaxYaw).ToArray();
                log.WriteLine($"{probes.Length} probe photos pass the enrolment gate");
                if (probes.Length == 0) throw new UserErrorException("--images: no probe photo passes the enrolment gate (a face large and frontal enough); give a folder of identity folders of photos such as LFW's.");
                var clock = Stopwatch.StartNew();
                int done = 0;
                while (clock.Elapsed.TotalSeconds < Math.Min(20, Math.Max(5, seconds / 3.0)))
                {
                    var batch = Enumerable.Range(0, 16).Select(k => probes[(done + k) % probes.Length]).Select(b => ImageDecoder.Decode(b, "probe")).ToList();
                    pipeline.Pipeline.AnalyseMany(batch);
                    done += batch.Count;
                }
                offlineImagesPerSecond = done / clock.Elapsed.TotalSeconds;
                log.WriteLine($"offline batched pipeline: {offlineImagesPerSecond:0.0} images/s ({done} images, batch 16)");
            }

            // The gallery: synthetic vectors enrolled directly, then the real people.
            var recorded = new GalleryModel(fingerprint, info.Architecture, info.EmbeddingSize, info.Template, modelPath, detectorPath);
            using (var gallery = FaceGallery.Create(galleryPath, recorded, new GalleryOptions { HnswAbove = int.MaxValue }, overwrite: true))
            {
                for (int start = 0; start < syntheticFaces; start += 10_000)
                    gallery.Enroll(Enumerable.Range(start, Math.Min(10_000, syntheticFaces - start)).Select(i => new GalleryFace($"synthetic{i}", SyntheticEmbeddings.Vector(7, i, info.EmbeddingSize))).ToList());
                gallery.Enroll(realFaces);
                gallery.SetThreshold(info.Threshold ?? 0.4);
                log.WriteLine($"gallery: {gallery.Count} faces ({syntheticFaces} synthetic, {realFaces.Count} real), threshold {gallery.Threshold}");
            }
            int before;
            using (var opened = FaceGallery.Open(galleryPath)) before = opened.Count;

            var options = new FaceServerOptions
            {
                Galleries = new Dictionary<string, string> { ["main"] = galleryPath },
                ModelPath = modelPath,
                DetectorPath = detectorPath,
                RateLimit = 1_000_000,
                QueueCapacity = 256,
            };
            var app = FaceServer.Build(options, b =>
            {
                b.WebHost.UseUrls("http://127.0.0.1:0");
                b.Logging.SetMinimumLevel(LogLevel.Warning); // keep stdout for the figures
            });
            app.StartAsync().GetAwaiter().GetResult();
            var result = Load(app.Urls.First(), probes, clientCount, warmupSeconds, seconds, maxRequests, identifyOnly, log);
            app.StopAsync().GetAwaiter().GetResult();
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            int after;
            using (var opened = FaceGallery.Open(galleryPath)) after = opened.Count;
            int lost = before + result.Enrolled - after;

            double identifyPerSecond = result.Count("identify") / result.Seconds;
            double imagesPerSecond = (result.Count("identify") + 2 * result.Count("verify") + result.Count("enrol")) / result.Seconds;
            var summary = new
            {
                Clients = clientCount,
                Mix = identifyOnly ? "identify" : "70 % identify, 20 % verify, 10 % enrol",
                Seconds = Math.Round(result.Seconds, 1),
                GalleryFaces = before,
                Requests = result.Latencies.Values.Sum(l => l.Count),
                Errors = result.Errors,
                WarmupErrors = result.WarmupErrors,
                FirstError = result.FirstError,
                Enrolled = result.Enrolled,
                LostEnrolments = lost,
                RequestsPerSecond = Math.Round(result.Latencies.Values.Sum(l => l.Count) / result.Seconds, 1),
                ImagesPerSecond = Math.Round(imagesPerSecond, 1),
                IdentifyPerSecond = Math.Round(identifyPerSecond, 1),
                OfflineImagesPerSecond = Math.Round(offlineImagesPerSecond, 1),
                ServiceImagesVsOffline = Math.Round(imagesPerSecond / offlineImagesPerSecond, 3),
                LatencyMs = result.Latencies.OrderBy(l => l.Key, StringComparer.Ordinal).ToDictionary(l => l.Key, l => new
                {
                    Count = l.Value.Count,
                    P50 = Math.Round(Percentile(l.Value, 0.50), 1),
                    P99 = Math.Round(Percentile(l.Value, 0.99), 1),
                }),
                WarmupSeconds = warmupSeconds,
                MemoryColdMb = result.MemoryColdMb,
                MemoryStartMb = Math.Round(result.MemoryStart / 1048576.0, 1),
                MemoryMidMb = Math.Round(result.MemoryMid / 1048576.0, 1),
                MemoryEndMb = Math.Round(result.MemoryEnd / 1048576.0, 1),
                ManagedHeapStartMb = Math.Round(result.ManagedStart / 1048576.0, 1),
                ManagedHeapEndMb = Math.Round(result.ManagedEnd / 1048576.0, 1),
                MemoryGrowth = Math.Round((double)(result.MemoryEnd - result.MemoryStart) / result.MemoryStart, 3),
                MemorySamples = result.Samples,
            };
            if (json) JsonOutput.Write(output, summary);
            else
            {
                output.WriteLine($"{summary.Requests} requests in {summary.Seconds} s from {clientCount} clients against {before} faces: {summary.RequestsPerSecond} req/s, {summary.ImagesPerSecond} images/s ({summary.ServiceImagesVsOffline:P0} of the offline pipeline's {summary.OfflineImagesPerSecond}), {summary.Errors} errors, {lost} lost enrolments");
                foreach (var (kind, figures) in summary.LatencyMs) output.WriteLine($"  {kind}: {figures.Count} requests, p50 {figures.P50} ms, p99 {figures.P99} ms");
                output.WriteLine($"  memory (working set): {summary.MemoryColdMb} MB before the {warmupSeconds} s warm-up, {summary.MemoryStartMb} MB at start, {summary.MemoryMidMb} MB half-way, {summary.MemoryEndMb} MB at end ({summary.MemoryGrowth:P1}); managed heap {summary.ManagedHeapStartMb} to {summary.ManagedHeapEndMb} MB");
            }
            return summary.Errors == 0 && lost == 0 ? 0 : 1;
        }
        finally
        {
            if (workDir is null) Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record LoadResult(Dictionary<string, List<double>> Latencies, int Errors, int WarmupErrors, string? FirstError, int Enrolled, double Seconds,
        double MemoryColdMb, long MemoryStart, long MemoryMid, long MemoryEnd, long ManagedStart, long ManagedEnd, List<MemorySample> Samples)
    {
        public int Count(string kind) => Latencies.GetValueOrDefault(kind)?.Count ?? 0;
    }

    /// <summary>
    /// The process's memory split by kind, to tell a leak from pages touched once: anonymous (heaps, native buffers)
    /// vs file-backed (code and mapped files paged in as new paths run), and what the GC has committed.
    /// </summary>
    private sealed record MemorySample(double Seconds, double WorkingSetMb, double AnonymousMb, double FileMb, double GcCommittedMb)
    {
        public static MemorySample Now(double seconds)
        {
            double anonymous = 0, file = 0;
            if (File.Exists("/proc/self/status"))
                foreach (var line in File.ReadLines("/proc/self/status"))
                {
                    if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anonymous = Kilobytes(line) / 1024.0;
                    else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kilobytes(line) / 1024.0;
                }
            return new MemorySample(Math.Round(seconds, 1), Math.Round(Environment.WorkingSet / 1048576.0, 1), Math.Round(anonymous, 1), Math.Round(file, 1),
                Math.Round(GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0, 1));
        }

        private static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// N clients sending 70 % identify, 20 % verify, 10 % enrol (largest face, into a new subject per request), or only identify: first
    /// for <paramref name="warmupSeconds"/> uncounted (the heaps, ONNX Runtime's arenas and the connection pool grow
    /// to their working size; their enrolments still count for the lost-enrolment check), then until the deadline.
    /// </summary>
    private static LoadResult Load(string url, byte[][] probes, int clientCount, int warmupSeconds, int seconds, int maxRequests, bool identifyOnly, TextWriter log)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clientCount }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(120) };
        var latencies = new System.Collections.Concurrent.ConcurrentBag<(string Kind, double Ms)>();
        int errors = 0, warmupErrors = 0, enrolled = 0, sent = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        void Clients(TimeSpan until, bool measured, int round) => Task.WaitAll(Enumerable.Range(0, clientCount).Select(client => Task.Run(async () =>
        {
            var random = new Random(1000 * round + client);
            for (int n = 0; clock.Elapsed < until && (!measured || Interlocked.Increment(ref sent) <= maxRequests); n++)
            {
                double pick = random.NextDouble();
                string kind = identifyOnly || pick < 0.7 ? "identify" : pick < 0.9 ? "verify" : "enrol";
                long started = Stopwatch.GetTimestamp();
                string? failure;
                try
                {
                    failure = await Send(http, kind, probes, random, client, measured ? n : -1 - n);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    failure = e.Message;
                }
                if (failure is null)
                {
                    if (measured) latencies.Add((kind, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                    if (kind == "enrol") Interlocked.Increment(ref enrolled);
                }
                else if (measured)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, $"{kind}: {failure}", null);
                }
                else Interlocked.Increment(ref warmupErrors);
            }
        })).ToArray());

        var cold = MemorySample.Now(0);
        Clients(TimeSpan.FromSeconds(warmupSeconds), measured: false, round: 1);
        log.WriteLine($"warm-up: {warmupSeconds} s, {warmupErrors} errors, working set {cold.WorkingSetMb} -> {Environment.WorkingSet / 1048576.0:0.0} MB");
        GC.Collect();
        long memoryStart = Environment.WorkingSet, managedStart = GC.GetTotalMemory(false);
        clock.Restart();
        var deadline = TimeSpan.FromSeconds(seconds);
        using var done = new CancellationTokenSource();
        // The working set half-way and every 5 s: whether growth levels off (heaps sized once) or keeps climbing (a leak).
        long memoryMid = 0;
        var samples = new List<MemorySample> { MemorySample.Now(0) };
        var sampler = Task.Run(async () =>
        {
            try { await Task.Delay(deadline / 2, done.Token); }
            catch (OperationCanceledException) { } // the request bound ended the run first
            memoryMid = Environment.WorkingSet;
        });
        var series = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                try { await Task.Delay(TimeSpan.FromSeconds(5), done.Token); }
                catch (OperationCanceledException) { break; }
                lock (samples) samples.Add(MemorySample.Now(clock.Elapsed.TotalSeconds));
            }
        });
        Clients(deadline, measured: true, round: 2);
        done.Cancel();
        sampler.Wait();
        double elapsed = clock.Elapsed.TotalSeconds;
        series.Wait();
        GC.Collect();
        long memoryEnd = Environment.WorkingSet, managedEnd = GC.GetTotalMemory(false);
        samples.Add(MemorySample.Now(clock.Elapsed.TotalSeconds));
        log.WriteLine($"load: {latencies.Count} requests, {errors} errors in {elapsed:0.0} s");
        var byKind = latencies.GroupBy(l => l.Kind).ToDictionary(g => g.Key, g => g.Select(l => l.Ms).Order().ToList());
        return new LoadResult(byKind, errors, warmupErrors, firstError, enrolled, elapsed, cold.WorkingSetMb, memoryStart, memoryMid, memoryEnd, managedStart, managedEnd, samples);
    }

    /// <summary>One request; null when it succeeded, else what went wrong.</summary>
    private static async Task<string?> Send(HttpClient http, string kind, byte[][] probes, Random random, int client, int n)
    {
        byte[] Pick() => probes[random.Next(probes.Length)];
        var form = new MultipartFormDataContent();
        void Add(byte[] bytes) => form.Add(new ByteArrayContent(bytes), "image", "probe.jpg");
        string path;
        switch (kind)
        {
            case "identify":
                Add(Pick());
                path = "/v1/galleries/main/identify";
                break;
            case "verify":
                Add(Pick());
                Add(Pick());
                path = "/v1/verify";
                break;
            default:
                Add(Pick());
                path = $"/v1/galleries/main/subjects/load-{client}-{n}/faces?largest=true";
                break;
        }
        using var response = await http.PostAsync(path, form);
        if (response.IsSuccessStatusCode) return null;
        // A photo the quality gate refuses is the service working, not failing; it is still counted as an error here so the figure is strict.
        return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
