using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace FaceForge.Server;

/// <summary>
/// Request counts and latencies per route and status, batch sizes, queue refusals and timeouts, written in the
/// Prometheus text format at /metrics.
/// </summary>
/// <remarks>Thread-safe: counters are updated with interlocked operations.</remarks>
internal sealed class ServiceMetrics
{
    /// <summary>Latency histogram bucket bounds, in seconds.</summary>
    private static readonly double[] Bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly ConcurrentDictionary<(string Method, string Route, int Status), Counter> _requests = new();
    private readonly Histogram _latency = new();
    private long _batches, _batchedImages, _queueRejected, _timedOut;
    private long _batchTicks;

    public void Request(string method, string route, int status, TimeSpan elapsed)
    {
        _requests.GetOrAdd((method, route, status), _ => new Counter()).Add(elapsed);
        _latency.Add(elapsed.TotalSeconds);
    }

    public void Batch(int images, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchedImages, images);
        Interlocked.Add(ref _batchTicks, elapsed.Ticks);
    }

    public void QueueRejected() => Interlocked.Increment(ref _queueRejected);

    public void TimedOut() => Interlocked.Increment(ref _timedOut);

    /// <summary>The Prometheus text exposition of every figure, plus the queue depth and gallery sizes given.</summary>
    public string Render(int queueDepth, IEnumerable<(string Gallery, int Faces)> galleries)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        var requests = _requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal).ThenBy(r => r.Key.Status).ToList();
        text.AppendLine("# HELP faceforge_requests_total Requests by method, route and status code.");
        text.AppendLine("# TYPE faceforge_requests_total counter");
        foreach (var ((method, route, status), counter) in requests)
            text.AppendLine(c, $"faceforge_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {counter.Count}");
        text.AppendLine("# HELP faceforge_request_seconds_sum Total time spent answering, by method, route and status code.");
        text.AppendLine("# TYPE faceforge_request_seconds_sum counter");
        foreach (var ((method, route, status), counter) in requests)
            text.AppendLine(c, $"faceforge_request_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {counter.Seconds:0.######}");
        text.AppendLine("# HELP faceforge_request_duration_seconds Request latency, all routes.");
        text.AppendLine("# TYPE faceforge_request_duration_seconds histogram");
        _latency.Render(text, "faceforge_request_duration_seconds");
        text.AppendLine("# TYPE faceforge_batches_total counter");
        text.AppendLine(c, $"faceforge_batches_total {Interlocked.Read(ref _batches)}");
        text.AppendLine("# TYPE faceforge_batched_images_total counter");
        text.AppendLine(c, $"faceforge_batched_images_total {Interlocked.Read(ref _batchedImages)}");
        text.AppendLine("# TYPE faceforge_batch_seconds_sum counter");
        text.AppendLine(c, $"faceforge_batch_seconds_sum {TimeSpan.FromTicks(Interlocked.Read(ref _batchTicks)).TotalSeconds:0.######}");
        text.AppendLine("# TYPE faceforge_queue_rejected_total counter");
        text.AppendLine(c, $"faceforge_queue_rejected_total {Interlocked.Read(ref _queueRejected)}");
        text.AppendLine("# TYPE faceforge_timed_out_total counter");
        text.AppendLine(c, $"faceforge_timed_out_total {Interlocked.Read(ref _timedOut)}");
        text.AppendLine("# TYPE faceforge_queue_depth gauge");
        text.AppendLine(c, $"faceforge_queue_depth {queueDepth}");
        text.AppendLine("# TYPE faceforge_gallery_faces gauge");
        foreach (var (gallery, faces) in galleries) text.AppendLine(c, $"faceforge_gallery_faces{{gallery=\"{gallery}\"}} {faces}");
        text.AppendLine("# TYPE process_working_set_bytes gauge");
        text.AppendLine(c, $"process_working_set_bytes {Environment.WorkingSet}");
        text.AppendLine("# TYPE dotnet_gc_heap_bytes gauge");
        text.AppendLine(c, $"dotnet_gc_heap_bytes {GC.GetTotalMemory(false)}");
        return text.ToString();
    }

    private sealed class Counter
    {
        private long _count, _ticks;

        public long Count => Interlocked.Read(ref _count);

        public double Seconds => TimeSpan.FromTicks(Interlocked.Read(ref _ticks)).TotalSeconds;

        public void Add(TimeSpan elapsed)
        {
            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _ticks, elapsed.Ticks);
        }
    }

    private sealed class Histogram
    {
        private readonly long[] _buckets = new long[Bounds.Length + 1];
        private long _ticks;

        public void Add(double seconds)
        {
            int i = 0;
            while (i < Bounds.Length && seconds > Bounds[i]) i++;
            Interlocked.Increment(ref _buckets[i]);
            Interlocked.Add(ref _ticks, TimeSpan.FromSeconds(seconds).Ticks);
        }

        public void Render(StringBuilder text, string name)
        {
            var c = CultureInfo.InvariantCulture;
            long cumulative = 0;
            for (int i = 0; i < Bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _buckets[i]);
                text.AppendLine(c, $"{name}_bucket{{le=\"{Bounds[i].ToString(c)}\"}} {cumulative}");
            }
            cumulative += Interlocked.Read(ref _buckets[^1]);
            text.AppendLine(c, $"{name}_bucket{{le=\"+Inf\"}} {cumulative}");
            text.AppendLine(c, $"{name}_sum {TimeSpan.FromTicks(Interlocked.Read(ref _ticks)).TotalSeconds:0.######}");
            text.AppendLine(c, $"{name}_count {cumulative}");
        }
    }
}
