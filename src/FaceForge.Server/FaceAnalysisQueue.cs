using System.Threading.Channels;
using FaceForge.Detection;
using FaceForge.Imaging;
using FaceForge.Pipeline;

namespace FaceForge.Server;

/// <summary>
/// The one place images meet the models. Requests enqueue images; a single worker takes the first one waiting,
/// lets others join for a short window (up to a batch size), then detects all of them in one detector call and
/// embeds every face of the batch in one embedding call. The queue is bounded: a request that finds it full is
/// refused at once (503 with Retry-After) instead of waiting without end.
/// </summary>
/// <remarks>
/// Thread-safe: any number of requests may enqueue at once; the models are only used by the worker. Disposing stops
/// taking new images, finishes every image already queued (so in-flight enrolments complete on shutdown), then
/// releases the models.
/// </remarks>
internal sealed class FaceAnalysisQueue : IDisposable
{
    private readonly OwnedFacePipeline _models;
    private readonly FaceServerOptions _options;
    private readonly ServiceMetrics _metrics;
    private readonly Channel<Job> _jobs;
    private readonly Task _worker;
    private int _pending;

    public FaceAnalysisQueue(OwnedFacePipeline models, FaceServerOptions options, ServiceMetrics metrics)
    {
        _models = models;
        _options = options;
        _metrics = metrics;
        _jobs = Channel.CreateBounded<Job>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _worker = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>
    /// Tests only: while set and not completed, the worker takes no image, so that a full queue, a timeout and a
    /// shutdown with requests in flight can be produced without racing the clock.
    /// </summary>
    internal volatile TaskCompletionSource? Hold;

    /// <summary>Images queued or being analysed now.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>The recognition model's metadata.</summary>
    public Models.ModelInfo ModelInfo => _models.Embedder.Info;

    /// <summary>Every face of <paramref name="image"/> with its embedding and quality fields.</summary>
    public async Task<IReadOnlyList<AnalysedFace>> AnalyseAsync(RgbImage image, CancellationToken cancel) =>
        (IReadOnlyList<AnalysedFace>)await Enqueue(image, embed: true, cancel);

    /// <summary>Every face of <paramref name="image"/> (detection only).</summary>
    public async Task<IReadOnlyList<DetectedFace>> DetectAsync(RgbImage image, CancellationToken cancel) =>
        (IReadOnlyList<DetectedFace>)await Enqueue(image, embed: false, cancel);

    private async Task<object> Enqueue(RgbImage image, bool embed, CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(_options.RequestTimeout);
        var job = new Job(image, embed, new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously), timeout.Token);
        Interlocked.Increment(ref _pending);
        if (!_jobs.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _pending);
            _metrics.QueueRejected();
            throw new ApiProblemException(503, "Service busy", $"{_options.QueueCapacity} images are waiting to be analysed; try again shortly.", retryAfterSeconds: 1);
        }
        try
        {
            return await job.Done.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            _metrics.TimedOut();
            throw new ApiProblemException(504, "Timed out", $"the image was not analysed within {_options.RequestTimeout.TotalSeconds:0.#} s (the service is overloaded); try again later.", retryAfterSeconds: 5);
        }
    }

    private async Task Work()
    {
        var batch = new List<Job>(_options.MaxBatch);
        while (await _jobs.Reader.WaitToReadAsync())
        {
            batch.Clear();
            if (Hold is { } hold) await hold.Task;
            if (!_jobs.Reader.TryRead(out var first)) continue;
            batch.Add(first);
            // The batching window: wait a little for concurrent requests, so that they share one model call.
            using (var window = new CancellationTokenSource(_options.BatchWindow))
            {
                while (batch.Count < _options.MaxBatch)
                {
                    if (_jobs.Reader.TryRead(out var next)) { batch.Add(next); continue; }
                    try
                    {
                        if (!await _jobs.Reader.WaitToReadAsync(window.Token)) break;
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
            Run(batch);
        }
    }

    private void Run(List<Job> batch)
    {
        // Requests that gave up (timeout, client gone) are not analysed.
        var live = new List<Job>(batch.Count);
        foreach (var job in batch)
        {
            if (job.Cancel.IsCancellationRequested) { job.Done.TrySetCanceled(job.Cancel); Interlocked.Decrement(ref _pending); }
            else live.Add(job);
        }
        if (live.Count == 0) return;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var embed = live.Where(j => j.Embed).ToList();
            var detect = live.Where(j => !j.Embed).ToList();
            if (embed.Count > 0)
            {
                var analysed = _models.Pipeline.AnalyseMany(embed.Select(j => j.Image).ToList());
                for (int i = 0; i < embed.Count; i++) embed[i].Done.TrySetResult(analysed[i]);
            }
            if (detect.Count > 0)
            {
                var found = _models.Detector.DetectMany(detect.Select(j => j.Image).ToList());
                for (int i = 0; i < detect.Count; i++) detect[i].Done.TrySetResult(found[i]);
            }
        }
        catch (Exception) when (live.Count > 1)
        {
            // One bad image must not fail its batch neighbours: run them one by one to find whose it was.
            foreach (var job in live) Run1(job);
        }
        catch (Exception e)
        {
            live[0].Done.TrySetException(e);
        }
        finally
        {
            Interlocked.Add(ref _pending, -live.Count);
            _metrics.Batch(live.Count, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    private void Run1(Job job)
    {
        try
        {
            job.Done.TrySetResult(job.Embed ? _models.Pipeline.AnalyseMany([job.Image])[0] : _models.Detector.Detect(job.Image));
        }
        catch (Exception e)
        {
            job.Done.TrySetException(e);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _jobs.Writer.TryComplete();
        _worker.GetAwaiter().GetResult(); // drains what was queued
        _models.Dispose();
    }

    private sealed record Job(RgbImage Image, bool Embed, TaskCompletionSource<object> Done, CancellationToken Cancel);
}
