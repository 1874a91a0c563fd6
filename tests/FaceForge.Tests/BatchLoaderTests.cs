using FaceForge.Data;
using FaceForge.Input;
using FaceForge.Synthesis;
using FaceForge.Training.Input;
using Xunit;

namespace FaceForge.Tests;

public sealed class SyntheticFolderFixture : IDisposable
{
    public SyntheticFolderFixture()
    {
        Root = TestPaths.NewTempDirectory("synthset");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 6, ImagesPerIdentity = 5, Size = 56, Seed = 11 }).WriteRecognitionSet(Root, threads: 2);
        Dataset = ImageFolderDataset.Open(Root, cacheDirectory: Root + "-cache");
    }

    public string Root { get; }

    public ImageFolderDataset Dataset { get; }

    public void Dispose() => Dataset.Dispose();
}

public class BatchLoaderTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{
    private static List<(float[] Pixels, int[] Labels, int[] Indices)> Collect(BatchLoader loader, int epoch)
    {
        var result = new List<(float[], int[], int[])>();
        foreach (var batch in loader.Epoch(epoch))
        {
            result.Add((batch.Pixels.ToArray(), batch.Labels, batch.SampleIndices));
            batch.Dispose();
        }
        return result;
    }

    [Fact]
    public void OutputDoesNotDependOnWorkerCount()
    {
        var options = new BatchLoaderOptions { BatchSize = 4, Width = 56, Height = 56, Seed = 5, Augmentation = new AugmentationOptions { DownscaleProbability = 0.5, ColorJitterProbability = 0.5 } };
        var one = Collect(new BatchLoader(data.Dataset, options with { Workers = 1 }), 0);
        var three = Collect(new BatchLoader(data.Dataset, options with { Workers = 3, PrefetchPerWorker = 1 }), 0);
        Assert.Equal(7, one.Count); // 30 images, batch 4, last partial batch dropped
        for (int b = 0; b < one.Count; b++)
        {
            Assert.Equal(one[b].Indices, three[b].Indices);
            Assert.Equal(one[b].Pixels, three[b].Pixels);
        }
    }

    [Fact]
    public void ProcessSlicesTogetherMakeTheWholeBatch()
    {
        var options = new BatchLoaderOptions { BatchSize = 6, Width = 56, Height = 56, Seed = 5, Workers = 1, Augmentation = new AugmentationOptions { ColorJitterProbability = 0.5 } };
        var whole = Collect(new BatchLoader(data.Dataset, options), 1);
        var first = Collect(new BatchLoader(data.Dataset, options with { SliceIndex = 0, SliceCount = 2 }), 1);
        var second = Collect(new BatchLoader(data.Dataset, options with { SliceIndex = 1, SliceCount = 2 }), 1);
        Assert.Equal(whole.Count, first.Count);
        for (int b = 0; b < whole.Count; b++)
        {
            Assert.Equal(whole[b].Labels, first[b].Labels.Concat(second[b].Labels));
            Assert.Equal(whole[b].Pixels, first[b].Pixels.Concat(second[b].Pixels)); // same augmentation: positions are global
        }
        Assert.Throws<ArgumentException>(() => new BatchLoader(data.Dataset, options with { SliceIndex = 0, SliceCount = 4 }));
    }

    /// <summary>
    /// Aligned images (no landmarks) are moved themselves: a dot at a crop's centre stays put under the jitter's scale
    /// and rotation, so where it lands measures the shift alone, at most j times the eye distance (a third of the width).
    /// </summary>
    [Fact]
    public void AlignmentJitterMovesAlignedCropsWithinItsBounds()
    {
        string root = TestPaths.NewTempDirectory("jitterset");
        for (int id = 0; id < 2; id++)
        {
            Directory.CreateDirectory(Path.Combine(root, $"id{id}"));
            for (int k = 0; k < 10; k++)
            {
                var image = new FaceForge.Imaging.RgbImage(60, 60);
                for (int y = 28; y < 32; y++)
                for (int x = 28; x < 32; x++)
                    image.Buffer.AsSpan((y * 60 + x) * 3, 3).Fill(255);
                FaceForge.Imaging.ImageEncoder.Save(image, Path.Combine(root, $"id{id}", $"{k}.png"));
            }
        }
        using var dataset = ImageFolderDataset.Open(root);
        var plain = new BatchLoaderOptions { BatchSize = 20, Width = 60, Height = 60, Seed = 3, Workers = 1, Augmentation = new AugmentationOptions { FlipProbability = 0 } };
        const double j = 0.1;
        var jittered = plain with { Augmentation = plain.Augmentation with { AlignmentJitter = j } };
        var still = Collect(new BatchLoader(dataset, plain), 0).Single().Pixels;
        var moved = Collect(new BatchLoader(dataset, jittered), 0).Single().Pixels;
        // Batches of 4 over 3 workers: the same pixels as one worker's single batch (the draw follows the position).
        Assert.Equal(moved, Collect(new BatchLoader(dataset, jittered with { BatchSize = 4, Workers = 3, PrefetchPerWorker = 1 }), 0).SelectMany(b => b.Pixels).ToArray());

        int plane = 3 * 60 * 60;
        double bound = j * 60 / 3.0, largestX = 0, largestY = 0; // the shift's bound: j eye distances of 20 pixels
        for (int i = 0; i < 20; i++)
        {
            var (x0, y0) = Centroid(still.AsSpan(i * plane, plane));
            var (x1, y1) = Centroid(moved.AsSpan(i * plane, plane));
            Assert.Equal(30, x0, 0.01);
            Assert.Equal(30, y0, 0.01);
            Assert.InRange(Math.Abs(x1 - 30), 0, bound + 0.2); // plus interpolation
            Assert.InRange(Math.Abs(y1 - 30), 0, bound + 0.2);
            (largestX, largestY) = (Math.Max(largestX, Math.Abs(x1 - 30)), Math.Max(largestY, Math.Abs(y1 - 30)));
        }
        // Twenty uniform shifts in [-2, 2] reach well past 1.2 pixels in both directions (a smaller scale would not).
        Assert.True(largestX > 1.2 && largestY > 1.2, $"largest shifts {largestX:0.00}, {largestY:0.00} pixels");
        Assert.Throws<ArgumentException>(() => new BatchLoader(dataset, plain with { Augmentation = plain.Augmentation with { AlignmentJitter = 1.5 } }));
        // train's keys reach the loader, and bad values are refused naming the key.
        var config = new FaceForge.Training.Recognition.TrainingConfig { Data = root, AlignmentJitter = j, ColorJitterProbability = 0.3 };
        var loader = FaceForge.Training.Recognition.RecognitionTask.LoaderOptions(config, new FaceForge.Models.ModelInfo { Architecture = "vargfacenet", InputWidth = 60, InputHeight = 60, Template = "arcface", EmbeddingSize = 8 }, new FaceForge.Training.Distributed.SingleProcessCommunicator());
        Assert.Equal((j, 0.3), (loader.Augmentation.AlignmentJitter, loader.Augmentation.ColorJitterProbability));
        Assert.Contains("alignment_jitter", Assert.Throws<ArgumentException>(() => (config with { AlignmentJitter = 0.7 }).Validate()).Message);
        Assert.Contains("color_jitter_probability", Assert.Throws<ArgumentException>(() => (config with { ColorJitterProbability = -1 }).Validate()).Message);

        // The red channel's brightness-weighted centre of one normalised crop.
        static (double X, double Y) Centroid(ReadOnlySpan<float> crop)
        {
            var red = crop[..(60 * 60)];
            float min = float.MaxValue;
            foreach (float v in red) min = Math.Min(min, v);
            double sum = 0, sx = 0, sy = 0;
            for (int k = 0; k < red.Length; k++)
            {
                double w = red[k] - min;
                sum += w; sx += w * (k % 60 + 0.5); sy += w * (k / 60 + 0.5);
            }
            return (sx / sum, sy / sum);
        }
    }

    [Fact]
    public void EpochsShuffleDifferentlyAndLabelsMatchTheDataset()
    {
        var loader = new BatchLoader(data.Dataset, new BatchLoaderOptions { BatchSize = 5, Width = 56, Height = 56, Seed = 1, Workers = 2 });
        var e0 = Collect(loader, 0).SelectMany(b => b.Indices).ToArray();
        var e1 = Collect(loader, 1).SelectMany(b => b.Indices).ToArray();
        Assert.Equal(Enumerable.Range(0, 30), e0.Order());
        Assert.NotEqual(e0, e1);
        foreach (var (_, labels, indices) in Collect(loader, 2))
            for (int i = 0; i < labels.Length; i++) Assert.Equal(data.Dataset.GetLabel(indices[i]), labels[i]);
    }

    [Fact]
    public void PixelsAreNormalisedChannelsFirst()
    {
        var loader = new BatchLoader(data.Dataset, new BatchLoaderOptions { BatchSize = 2, Width = 56, Height = 56, Shuffle = false, Augmentation = AugmentationOptions.None, Workers = 1 });
        var first = Collect(loader, 0)[0];
        var image = FaceForge.Imaging.ImageDecoder.Decode(data.Dataset.ReadEncoded(0), "x");
        int plane = 56 * 56;
        for (int p = 0; p < plane; p += 97)
            for (int c = 0; c < 3; c++)
                Assert.Equal((image.Pixels[3 * p + c] - 127.5f) / 127.5f, first.Pixels[c * plane + p], 5);
    }

    [Fact]
    public void ResizesToTheRequestedSizeAndMakesOneTensorPerBatch()
    {
        var loader = new BatchLoader(data.Dataset, new BatchLoaderOptions { BatchSize = 3, Width = 32, Height = 40, Workers = 2 });
        using var batch = loader.Epoch(0).First();
        var (images, labels) = TensorBatch.ToTensors(batch);
        using (images) using (labels)
        {
            Assert.Equal(new long[] { 3, 3, 40, 32 }, images.shape);
            Assert.Equal(batch.Labels.Select(l => (long)l), labels.data<long>().ToArray());
            Assert.Equal(batch.Pixels[100], images.view(-1)[100].item<float>(), 6);
        }
    }

    [Fact]
    public void CorruptImageFailsWithItsPathOrIsSkipped()
    {
        string root = DataFormatTests.MakeFolder("loaderbad", 2, 3);
        File.WriteAllText(Path.Combine(root, "person1", "1.png"), "garbage");
        using var dataset = ImageFolderDataset.Open(root, cacheDirectory: root + "-cache");
        var options = new BatchLoaderOptions { BatchSize = 2, Width = 8, Height = 8, Workers = 2 };
        var e = Assert.Throws<InvalidDataException>(() => Collect(new BatchLoader(dataset, options), 0));
        Assert.Contains(Path.Combine("person1", "1.png"), e.Message);
        var skipping = new BatchLoader(dataset, options with { SkipBad = true });
        Assert.Equal(3, Collect(skipping, 0).Count);
        Assert.Equal(1, skipping.BadCount);
    }
}
