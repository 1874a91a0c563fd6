using FaceForge.Alignment;
using FaceForge.Embedding;
using FaceForge.Training.Embedding;
using FaceForge.Training.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

/// <summary>The memory layout networks run in, and that it gives each face the same embedding whatever its batch.</summary>
public class ChannelsLastTests
{
    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void AFaceEmbedsTheSameAloneAndInABatch()
    {
        // On a Zen 5 virtual machine libtorch's channels-last 1x1 convolution mixed a batch's images: a face embedded
        // at cosine 0.974 to itself embedded alone. The layout check must catch that wherever it happens.
        string shared = TestPaths.Shared!, dir = TestPaths.NewTempDirectory("layout"), model = Path.Combine(dir, "mfn.ffm");
        Assert.Equal(0, CliHarness.Run("model", "import", "--from", Path.Combine(shared, "models/mobilefacenet-casia/068.ckpt"), "--arch", "mobilefacenet-casia", "--out", model).Code);
        var landmarks = LandmarksFile.Read(Path.Combine(shared, "data/lfw/landmarks.txt"));
        var crops = landmarks.Keys.Order(StringComparer.Ordinal).Take(8)
            .Select(key => FaceAligner.Align(Imaging.ImageDecoder.Decode(Path.Combine(shared, "data/lfw/images", key)), landmarks[key], AlignmentTemplate.SphereFace112x96)).ToList();
        using var embedder = TorchFaceEmbedder.Open(model);
        var batched = embedder.EmbedFaces(crops, FlipMode.None).ToList();
        for (int i = 0; i < crops.Count; i++)
        {
            var alone = embedder.EmbedFaces([crops[i]], FlipMode.None).Single();
            Assert.True(Similarity.Cosine(alone.Vector, batched[i].Vector) > 0.99999, $"face {i}: cosine {Similarity.Cosine(alone.Vector, batched[i].Vector)} alone against in a batch of {crops.Count}");
        }
    }

    [Fact]
    public void FromKeepsTheValuesInTheLayoutChosen()
    {
        using var scope = NewDisposeScope();
        var x = arange(2 * 3 * 4 * 5, ScalarType.Float32).reshape(2, 3, 4, 5);
        var y = ChannelsLast.From(x);
        Assert.Equal(x.data<float>().ToArray(), y.contiguous().data<float>().ToArray());
        if (ChannelsLast.Enabled)
        {
            Assert.Equal(new long[] { 60, 1, 15, 3 }, y.stride());
            Assert.True(ChannelsLast.Agrees(128, 512, 1, 1, 7, 6)); // the shape that failed where it was turned off
        }
        else Assert.True(y.is_contiguous());
        Assert.Throws<ArgumentException>(() => ChannelsLast.From(zeros(3, 4)));
    }
}

public class KernelVerdictTests
{
    [Fact]
    public void AFaultIsRecordedForThisMachineAtomically()
    {
        string dir = TestPaths.NewTempDirectory("kernels");
        string path = KernelVerdict.PathFor(dir);
        Assert.Equal(KernelVerdict.MachineKey(), Path.GetFileNameWithoutExtension(path));
        Assert.Matches("^[0-9a-f]{16}$", KernelVerdict.MachineKey());
        KernelVerdict.RecordChannelsLastFault(dir);
        bool userChose = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") is not null || Environment.GetEnvironmentVariable("FACEFORGE_CHANNELS_LAST") is not null;
        if (!OperatingSystem.IsLinux() || userChose || KernelVerdict.LimitedToAvx2)
        {
            // Already limited, or the user's own setting: nothing to record.
            Assert.False(File.Exists(path));
            return;
        }
        Assert.Equal("AVX2", File.ReadAllText(path).Trim());
        Assert.Single(Directory.GetFiles(dir)); // written through a rename: no temporary file left
    }
}
