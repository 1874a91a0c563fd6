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
