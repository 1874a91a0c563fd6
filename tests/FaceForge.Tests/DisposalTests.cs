using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Gallery;
using FaceForge.Imaging;
using Xunit;

namespace FaceForge.Tests;

/// <summary>
/// Dispose while other threads still call: the calls in flight finish, later ones throw ObjectDisposedException, and the
/// process lives (freeing an ONNX Runtime session or an HNSW graph under a running call crashed it).
/// </summary>
public class DisposalTests
{
    /// <summary>Runs <paramref name="call"/> on four threads until each sees ObjectDisposedException, disposing midway; any other exception fails.</summary>
    private static void DisposeUnderLoad(IDisposable target, Action call)
    {
        using var started = new CountdownEvent(4);
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            bool signalled = false;
            try
            {
                while (true)
                {
                    call();
                    if (!signalled) started.Signal();
                    signalled = true;
                }
            }
            catch (ObjectDisposedException) { }
            catch (Exception e) { failures.Add(e); }
            finally
            {
                if (!signalled) started.Signal();
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.True(started.Wait(TimeSpan.FromMinutes(2)));
        target.Dispose();
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromMinutes(1))));
        Assert.Empty(failures);
        target.Dispose(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(call);
    }

    [Fact]
    public void AnEmbedderDisposedMidCallLetsTheCallFinish()
    {
        string dir = TestPaths.NewTempDirectory("dispose-embedder");
        string onnx = Path.Combine(dir, "random.onnx");
        FaceForge.Training.Export.OnnxExporter.Export(TestModels.Random(dir), onnx);
        var embedder = new OnnxFaceEmbedder(onnx);
        var crops = Enumerable.Range(0, 4).Select(i => new RgbImage(embedder.Info.InputWidth, embedder.Info.InputHeight)).ToList();
        DisposeUnderLoad(embedder, () => embedder.EmbedFaces(crops, FlipMode.Add));
    }

    [SharedFact("models/yunet/face_detection_yunet.onnx")]
    public void ADetectorDisposedMidCallLetsTheCallFinish()
    {
        var detector = new OnnxFaceDetector(Path.Combine(TestPaths.Shared!, "models/yunet/face_detection_yunet.onnx"));
        var image = new RgbImage(320, 240);
        DisposeUnderLoad(detector, () => detector.Detect(image));
    }

    [Fact]
    public void AGalleryDisposedMidSearchLetsTheSearchFinish()
    {
        const int dim = 32;
        string path = Path.Combine(TestPaths.NewTempDirectory("dispose-gallery"), "faces.gallery");
        var gallery = FaceGallery.Create(path, new GalleryModel("f00d", "test", dim, "arcface", "/models/test.ffm", null), open: new GalleryOpenOptions { ForceHnsw = true });
        gallery.Enroll(Enumerable.Range(0, 2000).Select(i => new GalleryFace($"s{i}", SyntheticEmbeddings.Vector(9, i, dim))).ToList());
        var probe = SyntheticEmbeddings.Vector(9, 7, dim);
        Assert.Equal("s7", gallery.Identify(probe, 1).Best!.Subject);
        DisposeUnderLoad(gallery, () => gallery.Identify(probe, 5));
        Assert.Contains(path, Assert.Throws<ObjectDisposedException>(() => gallery.Enroll([new GalleryFace("x", probe)])).Message);
    }
}
