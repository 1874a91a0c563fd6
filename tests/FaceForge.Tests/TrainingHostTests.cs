using System.Text.Json;
using FaceForge.Synthesis;
using FaceForge.Training.Detection;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;
using Xunit;

namespace FaceForge.Tests;

/// <summary>Both trainers run on one host: they stop, checkpoint and resume the same way.</summary>
public class TrainingHostTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{
    private static readonly Lazy<string> Scenes = new(() =>
    {
        string dir = TestPaths.NewTempDirectory("host-scenes");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 2, ImagesPerIdentity = 1, Seed = 4, SceneOcclusionRate = 1 }).WriteDetectionScenes(dir, 8);
        return dir;
    });

    private TrainingConfig Recognition(int steps) => new()
    {
        Data = data.Root, Arch = "mobilefacenet", Width = 0.125, EmbeddingSize = 32, BatchSize = 8, Epochs = 10, MaxSteps = steps,
        LearningRate = 0.05, Seed = 3, LogEvery = 1, CheckpointEvery = 2, Head = HeadKind.ArcFace, Scale = 16,
    };

    private static DetectorTrainingConfig Detector(int steps) => new()
    {
        Data = Scenes.Value, MaxSteps = steps, BatchSize = 2, InputWidth = 96, InputHeight = 96, Seed = 5, LogEvery = 1, CheckpointEvery = 2, Epochs = 10,
    };

    public static TheoryData<string> Trainers => ["recognition", "detector"];

    private TrainingResult Train(string kind, int steps, string dir, bool resume = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancel = default) =>
        kind == "recognition" ? new Trainer(Recognition(steps), dir).Run(resume, progress: progress, cancellation: cancel)
            : new DetectorTrainer(Detector(steps), dir).Run(resume, progress: progress, cancellation: cancel);

    [Theory]
    [MemberData(nameof(Trainers))]
    public void ResumeAfterAnInterruptionTakesTheIdenticalNextStep(string kind)
    {
        string straight = TestPaths.NewTempDirectory($"host-{kind}-straight"), split = TestPaths.NewTempDirectory($"host-{kind}-split");
        var full = Train(kind, 5, straight);
        Assert.Equal(5, full.Steps);
        Assert.True(File.Exists(Path.Combine(straight, "finished.json")));
        // Only the newest two checkpoints are kept.
        Assert.Equal(["step_00000004.ckpt", "step_00000005.ckpt"], Directory.GetFiles(Path.Combine(straight, "checkpoints")).Select(Path.GetFileName).Order());

        using (var stop = new CancellationTokenSource())
        {
            var first = Train(kind, 5, split, progress: new CancelAt(3, stop), cancel: stop.Token);
            Assert.Equal(3, first.Steps);
        }
        Assert.False(File.Exists(Path.Combine(split, "finished.json")));
        var resumed = Train(kind, 5, split, resume: true);
        Assert.Equal(5, resumed.Steps);
        Assert.Equal(full.Losses[3].Loss, resumed.FirstLoss, 5);
        Assert.Equal(full.Losses[4].Loss, resumed.Losses[^1].Loss, 5);
        Assert.Equal(Enumerable.Range(1, 5), File.ReadAllLines(Path.Combine(split, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()));
        Assert.True(File.Exists(Path.Combine(split, "model.ffm")) && File.Exists(Path.Combine(split, "report.html")));
        Assert.False(File.Exists(Path.Combine(split, "run.lock")));
    }

    [Theory]
    [MemberData(nameof(Trainers))]
    public void ResumeDropsMetricLinesPastTheCheckpointAndATornLine(string kind)
    {
        string dir = TestPaths.NewTempDirectory($"host-{kind}-torn");
        using (var stop = new CancellationTokenSource())
            Train(kind, 6, dir, progress: new CancelAt(3, stop), cancel: stop.Token);
        // As a kill after step 3's metric line but before its checkpoint leaves it: newest checkpoint at 2, a line for 3, a torn line.
        File.Delete(Path.Combine(dir, "checkpoints", "step_00000003.ckpt"));
        File.AppendAllText(Path.Combine(dir, "metrics.jsonl"), "{\"step\":4,\"lo");
        var resumed = Train(kind, 4, dir, resume: true);
        Assert.Equal(4, resumed.Steps);
        Assert.Equal([1, 2, 3, 4], File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Trainers))]
    public void AStartedOrOwnedFolderIsRefused(string kind)
    {
        string dir = TestPaths.NewTempDirectory($"host-{kind}-owned");
        using (var stop = new CancellationTokenSource())
            Train(kind, 4, dir, progress: new CancelAt(2, stop), cancel: stop.Token);
        var started = Assert.Throws<RunFolderConflictException>(() => Train(kind, 4, dir));
        Assert.Equal(RunConflict.Started, started.Reason);

        // A holder of the lock (here a second handle, as another process or another run in this one would have) keeps
        // the folder; a lock file whose owner is gone (a kill leaves it, with its pid) does not.
        using (OwnerLock.Acquire(Path.Combine(dir, "run.lock")))
        {
            var locked = Assert.Throws<RunFolderConflictException>(() => Train(kind, 4, dir, resume: true));
            Assert.Equal(RunConflict.Locked, locked.Reason);
            Assert.Contains($"process {Environment.ProcessId}", locked.Message);
        }
        File.WriteAllText(Path.Combine(dir, "run.lock"), "2147483646");
        Assert.Equal(4, Train(kind, 4, dir, resume: true).Steps);
    }

    [Fact]
    public void MaxSecondsStopsBothTrainersAndCheckpointsWhereTheyStopped()
    {
        string rec = TestPaths.NewTempDirectory("host-seconds-rec"), det = TestPaths.NewTempDirectory("host-seconds-det");
        var a = new Trainer(Recognition(100) with { MaxSeconds = 1e-6 }, rec).Run();
        var b = new DetectorTrainer(Detector(100) with { MaxSeconds = 1e-6 }, det).Run();
        // The clock starts with the run and is checked before each step; building the task takes longer than a microsecond.
        Assert.Equal(0, a.Steps);
        Assert.Equal(0, b.Steps);
        Assert.True(File.Exists(Path.Combine(rec, "checkpoints", "step_00000000.ckpt")) && File.Exists(Path.Combine(det, "checkpoints", "step_00000000.ckpt")));
        Assert.False(File.Exists(Path.Combine(rec, "finished.json")) || File.Exists(Path.Combine(det, "finished.json")));
    }

}
