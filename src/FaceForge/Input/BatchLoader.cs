using System.Buffers;
using System.Threading.Channels;
using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Imaging;

namespace FaceForge.Input;

/// <summary>
/// The training input pipeline: worker threads decode and augment images into pooled buffers and hand finished
/// batches to the training thread through bounded channels. Worker w builds batches w, w + W, w + 2W, … into its
/// own channel, and the consumer reads the channels round-robin, so batches arrive in order and the result is the
/// same for any number of workers: the order comes from (seed, epoch) and each image's augmentation from (seed,
/// epoch, position).
/// </summary>
/// <remarks>Enumerate one epoch at a time from one thread. Disposing the enumerator stops the workers.</remarks>
public sealed class BatchLoader
{
    private readonly IFaceDataset _dataset;
    private readonly BatchLoaderOptions _options;
    private readonly int[][]? _pairable;
    private int _badCount;

    /// <summary>Creates a loader over <paramref name="dataset"/>.</summary>
    public BatchLoader(IFaceDataset dataset, BatchLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options.Validate();
        if (dataset.Count == 0) throw new ArgumentException("The dataset has no images.", nameof(dataset));
        _dataset = dataset;
        _options = options;
        if (options.IdentityPairs)
        {
            var identities = FaceDataset.ImagesByIdentity(dataset);
            _pairable = identities.Where(v => v.Length >= 2).ToArray();
            SingleImageIdentities = identities.Length - _pairable.Length;
            if (_pairable.Length < options.BatchSize / 2)
                throw new ArgumentException($"Only {_pairable.Length} of the {identities.Length} identities have two or more images; a batch of {options.BatchSize} images in " +
                    $"identity pairs needs {options.BatchSize / 2} such identities. Lower the batch size or add images.", nameof(dataset));
        }
    }

    /// <summary>Identities left out of identity pairs for having a single image (0 unless <see cref="BatchLoaderOptions.IdentityPairs"/>).</summary>
    public int SingleImageIdentities { get; }

    /// <summary>Unreadable images replaced so far (only with <see cref="BatchLoaderOptions.SkipBad"/>).</summary>
    public int BadCount => Volatile.Read(ref _badCount);

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => _options.DropLast ? Samples / _options.BatchSize : (Samples + _options.BatchSize - 1) / _options.BatchSize;

    private int Samples => _pairable is null ? _dataset.Count : 2 * _pairable.Length;

    /// <summary>The dataset order of epoch <paramref name="epoch"/> (with identity pairs: two images of each identity, side by side).</summary>
    public int[] Order(int epoch)
    {
        if (_pairable is not null) return PairOrder(epoch);
        var order = Enumerable.Range(0, _dataset.Count).ToArray();
        if (_options.Shuffle) new Random(Randomness.SeedMixer.Mix(_options.Seed, epoch, 0x5eed)).Shuffle(order);
        return order;
    }

    private int[] PairOrder(int epoch)
    {
        var identities = Enumerable.Range(0, _pairable!.Length).ToArray();
        var random = new Random(Randomness.SeedMixer.Mix(_options.Seed, epoch, 0x9a1e));
        if (_options.Shuffle) random.Shuffle(identities);
        var order = new int[2 * identities.Length];
        for (int i = 0; i < identities.Length; i++)
        {
            var images = _pairable[identities[i]];
            int first = random.Next(images.Length), second = (first + 1 + random.Next(images.Length - 1)) % images.Length;
            order[2 * i] = images[first];
            order[2 * i + 1] = images[second];
        }
        return order;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>, in order, starting at batch <paramref name="firstBatch"/> (to resume mid-epoch).</summary>
    public IEnumerable<Batch> Epoch(int epoch, int firstBatch = 0, CancellationToken cancellation = default)
    {
        int[] order = Order(epoch);
        int batchCount = BatchesPerEpoch;
        ArgumentOutOfRangeException.ThrowIfNegative(firstBatch);
        int workers = Math.Min(_options.Workers, Math.Max(1, batchCount - firstBatch));
        var channels = new Channel<Batch>[workers];
        for (int w = 0; w < workers; w++)
            channels[w] = Channel.CreateBounded<Batch>(new BoundedChannelOptions(_options.PrefetchPerWorker) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var threads = new Task[workers];
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            threads[w] = Task.Factory.StartNew(() => Produce(firstBatch + worker, workers, batchCount, order, epoch, channels[worker].Writer, stop.Token),
                stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        try
        {
            for (int b = firstBatch; b < batchCount; b++)
            {
                var reader = channels[(b - firstBatch) % workers].Reader;
                Batch batch;
                try
                {
                    batch = reader.ReadAsync(stop.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    throw e.InnerException; // the worker's error, e.g. a corrupt image named by the decoder
                }
                yield return batch;
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var channel in channels)
                while (channel.Reader.TryRead(out var left)) left.Dispose();
            try { Task.WaitAll(threads); } catch (AggregateException) { /* cancellation or an error already reported */ }
            foreach (var channel in channels)
                while (channel.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    private void Produce(int first, int workers, int batchCount, int[] order, int epoch, ChannelWriter<Batch> writer, CancellationToken stop)
    {
        try
        {
            for (int b = first; b < batchCount && !stop.IsCancellationRequested; b += workers)
            {
                var batch = Build(b, order, epoch);
                try
                {
                    writer.WriteAsync(batch, stop).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    batch.Dispose();
                    return;
                }
            }
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    private Batch Build(int batchIndex, int[] order, int epoch)
    {
        int part = _options.BatchSize / _options.SliceCount;
        int start = batchIndex * _options.BatchSize + _options.SliceIndex * part;
        int count = _options.SliceCount == 1 ? Math.Min(_options.BatchSize, order.Length - start) : part;
        var views = _options.Views.ToArray();
        var pixels = views.Select(v => ArrayPool<float>.Shared.Rent(count * 3 * v.Height * v.Width)).ToArray();
        var labels = new int[count];
        var indices = new int[count];
        for (int i = 0; i < count; i++)
        {
            int position = start + i;
            int index = order[position];
            var image = Load(ref index);
            int draw = Randomness.SeedMixer.Mix(_options.Seed, epoch, position);
            var move = DrawMove(draw);
            var points = _options.Landmarks is { } landmarks ? move.Apply(landmarks[index]) : (FaceLandmarks?)null;
            for (int v = 0; v < views.Length; v++)
            {
                var view = views[v];
                var crop = Crop(image, points, view, index);
                // Aligned images have no landmarks to move: the crop itself is moved by a draw of the same distribution.
                if (points is null) crop = move.Apply(crop);
                // Every view replays the same draw: one flip, one jitter, one blur decision per sample.
                crop = Augmenter.Apply(crop, _options.Augmentation, new Random(draw), view.Template);
                int plane = 3 * view.Height * view.Width;
                view.Normalization.WriteChannelsFirst(crop, pixels[v].AsSpan(i * plane, plane));
            }
            labels[i] = _dataset.GetLabel(index);
            indices[i] = index;
        }
        return new Batch(batchIndex, count, views, pixels, labels, indices);
    }

    private RgbImage Crop(RgbImage image, FaceLandmarks? points, InputView view, int index)
    {
        if (points is not { } p)
            return view.Template is { } frame ? FaceAligner.Reframe(image, frame)
                : image.Width == view.Width && image.Height == view.Height ? image : ImageResizer.Resize(image, view.Width, view.Height);
        try
        {
            return FaceAligner.Align(image, p, view.Template!);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{_dataset.Describe(index)}: {e.Message}", e);
        }
    }

    /// <summary>This sample's random similarity move (<see cref="AugmentationOptions.AlignmentJitter"/>), none when the jitter is 0.</summary>
    private JitterMove DrawMove(int draw)
    {
        double j = _options.Augmentation.AlignmentJitter;
        if (j == 0) return default;
        var random = new Random(Randomness.SeedMixer.Mix(draw, 0x0a11, 0x9e7));
        double U() => (2 * random.NextDouble() - 1) * j;
        float scale = (float)Math.Exp(U()), angle = (float)U();
        float shiftX = (float)U(), shiftY = (float)U();
        return new JitterMove(scale, angle, shiftX, shiftY);
    }

    /// <summary>
    /// Scale, rotation (radians) and shift (in eye distances) about the centre of the points or of the crop; the
    /// eye distance of an aligned crop is taken as a third of its width, as <see cref="Augmenter"/> does. The default
    /// (scale 0, which no draw gives) is no move. The landmarks keep the rotation-matrix form they moved by before the
    /// crop form existed, so runs with landmarks reproduce to the bit.
    /// </summary>
    private readonly record struct JitterMove(float Scale, float Angle, float ShiftX, float ShiftY)
    {
        private bool Active => Scale != 0;

        public FaceLandmarks Apply(FaceLandmarks points)
        {
            if (!Active) return points;
            float eyes = Vector2.Distance(points.LeftEye, points.RightEye);
            var all = points.ToArray();
            var centre = all.Aggregate(Vector2.Zero, (a, b) => a + b) / all.Length;
            var rotation = Matrix3x2.CreateRotation(Angle);
            var shift = new Vector2(ShiftX * eyes, ShiftY * eyes);
            float scale = Scale;
            return points.Select(q => centre + Vector2.Transform(q - centre, rotation) * scale + shift);
        }

        public RgbImage Apply(RgbImage crop)
        {
            if (!Active) return crop;
            // Pixel centres are whole numbers in Warp, so the crop's centre is ((W - 1) / 2, (H - 1) / 2).
            var map = Map(new Vector2((crop.Width - 1) / 2f, (crop.Height - 1) / 2f), crop.Width / 3f);
            var result = new RgbImage(crop.Width, crop.Height);
            FaceAligner.Warp(crop, map, result.Buffer, crop.Width, crop.Height);
            return result;
        }

        /// <summary>p -> centre + scale R(angle) (p - centre) + shift x eyes, the formula the landmarks move by.</summary>
        private SimilarityTransform Map(Vector2 centre, float eyes)
        {
            float a = Scale * MathF.Cos(Angle), b = Scale * MathF.Sin(Angle);
            var shift = new Vector2(ShiftX * eyes, ShiftY * eyes);
            return new SimilarityTransform(a, b, centre.X - (a * centre.X - b * centre.Y) + shift.X, centre.Y - (b * centre.X + a * centre.Y) + shift.Y);
        }
    }

    private RgbImage Load(ref int index)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return ImageDecoder.Decode(_dataset.ReadEncoded(index), _dataset.Describe(index));
            }
            catch (InvalidDataException) when (_options.SkipBad && attempt < _dataset.Count)
            {
                Interlocked.Increment(ref _badCount);
                index = (index + 1) % _dataset.Count;
            }
        }
    }
}
