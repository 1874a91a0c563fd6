using System.Text.Json;
using FaceForge.Models;
using FaceForge.Synthesis;
using FaceForge.Training.Backbones;
using FaceForge.Training.Hosting;
using FaceForge.Training.Recognition;
using Xunit;

namespace FaceForge.Tests;

/// <summary>What a new user met in the first hour, held by tests.</summary>
public class FirstHourTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{

    private static string Lfw(string relative) => Path.Combine(TestPaths.Shared!, "data/lfw", relative);


    private static string CasiaModel()
    {
        string model = Path.Combine(TestPaths.NewTempDirectory("first-hour"), "mfn.ffm");
        Assert.Equal(0, CliHarness.Run("model", "import", "--from", Path.Combine(TestPaths.Shared!, "models/mobilefacenet-casia/068.ckpt"), "--arch", "mobilefacenet-casia", "--out", model).Code);
        return model;
    }

    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void PhotosAreDetectedByDefaultAndNeverSqueezedIntoACrop()
    {
        string model = CasiaModel();
        string a = Lfw("images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"), b = Lfw("images/Aaron_Peirsol/Aaron_Peirsol_0002.jpg"), other = Lfw("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
        double Score(params string[] extra)
        {
            var (code, output, error) = CliHarness.Run(["verify", "--model", model, .. extra, "--json"]);
            Assert.True(code == 0, error);
            return JsonDocument.Parse(output).RootElement.GetProperty("score").GetDouble();
        }
        // The built-in RetinaFace finds and aligns the faces of these 250x250 photos: the same person scores high,
        // another low. Taken as crops (--aligned, what the CLI used to do silently), the two people look alike.
        double same = Score(a, b), different = Score(a, other), squeezed = Score(a, other, "--aligned");
        Assert.True(same > 0.6, $"same person {same:0.000}");
        Assert.True(different < 0.3, $"different people {different:0.000}");
        Assert.True(squeezed > different + 0.2, $"squeezed {squeezed:0.000} vs aligned {different:0.000}");

        // One process for a list of pairs gives the same scores.
        string list = Path.Combine(TestPaths.NewTempDirectory("pairs-list"), "pairs.txt");
        File.WriteAllText(list, $"{a}\t{b}\n{a}\t{other}\n");
        var (code, output, error) = CliHarness.Run("verify", "--model", model, "--pairs", list, "--threshold", "0.4", "--json");
        Assert.True(code == 0, error);
        var rows = JsonDocument.Parse(output).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(same, rows[0].GetProperty("score").GetDouble(), 6);
        Assert.Equal(different, rows[1].GetProperty("score").GetDouble(), 6);
        Assert.Equal([true, false], rows.Select(r => r.GetProperty("same").GetBoolean()));

        // embed with another detector works (it used to end in "One or more errors occurred").
        (code, _, error) = CliHarness.Run("embed", "--model", model, a, "--detector", Path.Combine(TestPaths.Shared!, "models/yunet/face_detection_yunet.onnx"), "--json");
        Assert.True(code == 0, error);
    }

    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void CalibrationWritesAnExplicitModelWithItsFlipMode()
    {
        string model = CasiaModel();
        string calibrated = Path.Combine(Path.GetDirectoryName(model)!, "calibrated.ffm");
        // LFW's first two folds cut to 60 genuine and 60 impostor pairs each (the file's own layout: "2 60" heads it).
        var lines = File.ReadAllLines(Lfw("pairs.txt"));
        string pairs = Path.Combine(Path.GetDirectoryName(model)!, "pairs.txt");
        File.WriteAllLines(pairs, [.. new[] { "2\t60" }, .. new[] { 1, 301, 601, 901 }.SelectMany(start => lines.Skip(start).Take(60))]);
        var (code, output, error) = CliHarness.Run("eval", "verify", "--model", model, "--images", Lfw("images"), "--pairs", pairs, "--landmarks", Lfw("landmarks.txt"),
            "--flip", "Concatenate", "--calibrate", "--out", calibrated, "--json");
        Assert.True(code == 0, error);
        var result = JsonDocument.Parse(output).RootElement;
        double threshold = result.GetProperty("threshold").GetDouble();
        var info = ModelFile.ReadInfo(calibrated);
        Assert.Equal(threshold, info.Threshold!.Value, 9);
        Assert.Equal("Concatenate", info.ThresholdFlip);
        Assert.Null(ModelFile.ReadInfo(model).Threshold); // the source is untouched
        // 120 impostor pairs cannot measure a FAR of 1e-3 or 1e-4.
        Assert.Equal(240, result.GetProperty("pairs").GetInt32());
        var tar = result.GetProperty("tar_at_far");
        Assert.Equal(JsonValueKind.Null, tar.GetProperty("1e-3").ValueKind);
        Assert.Equal(JsonValueKind.Null, tar.GetProperty("1e-4").ValueKind);
        // An ONNX model cannot take the threshold: refused before the evaluation, not after it.
        (code, _, error) = CliHarness.Run("eval", "verify", "--model", Path.ChangeExtension(model, ".onnx"), "--images", Lfw("images"), "--pairs", Lfw("pairs.txt"), "--calibrate");
        Assert.Equal(2, code);
        Assert.Contains("--calibrate writes the threshold into a FaceForge model (.ffm)", error);
        (code, _, error) = CliHarness.Run("eval", "verify", "--model", model, "--images", Lfw("images"), "--pairs", Lfw("pairs.txt"), "--calibrate", "--out", Path.ChangeExtension(calibrated, ".onnx"));
        Assert.Equal(2, code);
        Assert.Contains("name it .ffm", error);
        // 20 pairs of each kind are too few to fit a threshold: refused before any embedding, the model untouched.
        string few = Path.Combine(Path.GetDirectoryName(model)!, "few-pairs.txt");
        File.WriteAllLines(few, [.. new[] { "2\t10" }, .. new[] { 1, 301, 601, 901 }.SelectMany(start => lines.Skip(start).Take(10))]);
        var before = File.ReadAllBytes(calibrated);
        (code, _, error) = CliHarness.Run("eval", "verify", "--model", calibrated, "--images", Lfw("images"), "--pairs", few, "--landmarks", Lfw("landmarks.txt"), "--calibrate");
        Assert.Equal(2, code);
        Assert.Contains("--calibrate needs at least 50 same-person and 50 different-person pairs", error);
        Assert.Contains("20 and 20 in the selected folds", error);
        Assert.Equal(before, File.ReadAllBytes(calibrated));
    }

    [Fact]
    public void EvalVerifyDrawsPairsFromAnOwnFolder()
    {
        string root = TestPaths.NewTempDirectory("own-folder");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 24, ImagesPerIdentity = 3, Size = 112, Seed = 21 }).WriteRecognitionSet(root, threads: 2);
        string model = TestModels.Random(TestPaths.NewTempDirectory("own-model"));
        string[] args = ["eval", "verify", "--model", model, "--images", root, "--pairs", "auto", "--json"];
        var first = CliHarness.Run(args);
        Assert.True(first.Code == 0, first.Error);
        var json = JsonDocument.Parse(first.Output).RootElement;
        // 24 people x 3 photos hold 3 genuine pairs each: every one of the 72 once, and as many impostor pairs (not
        // 30 + 30 per fold drawn with repeats).
        Assert.Equal(144, json.GetProperty("pairs").GetInt32());
        Assert.Equal(10, json.GetProperty("fold_accuracies").GetArrayLength());
        Assert.Equal(json.GetProperty("accuracy_mean").GetDouble(), JsonDocument.Parse(CliHarness.Run(args).Output).RootElement.GetProperty("accuracy_mean").GetDouble());
    }

    [Fact]
    public void TrainingReportsEveryStepRecordsEffectiveValuesAndRefusesToResumeAFinishedRun()
    {
        string run = TestPaths.NewTempDirectory("feedback");
        var config = new TrainingConfig { Data = data.Root, Arch = "mobilefacenet", Width = 0.125, BatchSize = 8, MaxSteps = 5, Seed = 1, Head = HeadKind.CosFace };
        var reports = new List<int>();
        new Trainer(config, run).Run(progress: new Collect(reports));
        Assert.Equal([1, 2, 3, 4, 5], reports); // log_every is 20: the bar still moves every step
        var saved = TrainingConfig.Load(Path.Combine(run, "config.json"));
        Assert.Equal(0.35, saved.Margin);
        Assert.Equal(BackboneCatalog.Defaults("mobilefacenet").EmbeddingSize, saved.EmbeddingSize);

        var (code, _, error) = CliHarness.Run("train", "--resume", run);
        Assert.Equal(2, code);
        Assert.Contains("nothing is left to resume", error);
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(run, "finished.json"));
        (code, _, error) = CliHarness.Run("train", "--resume", run, "--max-steps", "6");
        Assert.True(code == 0, error);
        Assert.Equal(6, JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "finished.json"))).RootElement.GetProperty("steps").GetInt32());
        Assert.True(File.GetLastWriteTimeUtc(Path.Combine(run, "finished.json")) >= stamp);
        (code, _, error) = CliHarness.Run("train", "--resume", run, "--lr", "0.5");
        Assert.Equal(2, code);
        Assert.Contains("--lr cannot change when resuming", error);
    }

    [Fact]
    public void TrainAndDemoShareTheArcFaceScaleDefault()
    {
        Assert.Equal(32, new TrainingConfig { Head = HeadKind.ArcFace }.Resolved().Scale);
        Assert.All(new[] { HeadKind.CosFace, HeadKind.MagFace, HeadKind.CurricularFace }, h => Assert.Equal(64, new TrainingConfig { Head = h }.Resolved().Scale));
        var (code, output, _) = CliHarness.Run("demo", "--help");
        Assert.Equal(0, code);
        Assert.Contains("[default: 32]", output.Split('\n').Single(l => l.TrimStart().StartsWith("--scale", StringComparison.Ordinal)));
    }

    /// <summary>The demo end to end at a toy size: it trains, scores identity-disjoint pairs (N / 2 of each kind per fold, at least 30) and writes its report.</summary>
    [Fact]
    public void DemoRunsAtAToySizeAndScalesItsPairsWithTheTestIdentities()
    {
        string dir = TestPaths.NewTempDirectory("demo");
        var (code, output, error) = CliHarness.Run("demo", "--out", dir, "--identities", "12", "--images", "3", "--epochs", "1", "--batch-size", "8",
            "--test-identities", "80", "--alignment-jitter", "0.05", "--json");
        Assert.True(code == 0, error);
        var result = JsonDocument.Parse(output).RootElement;
        Assert.Equal(10 * 2 * 40, result.GetProperty("pairs").GetInt32());
        Assert.InRange(result.GetProperty("accuracy_mean").GetDouble(), 0, 1);
        Assert.True(File.Exists(Path.Combine(dir, "report", "report.html")));
        Assert.Equal(0.05, JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "run", "config.json"))).RootElement.GetProperty("alignment_jitter").GetDouble());
    }

    private sealed class Collect(List<int> steps) : IProgress<TrainingStatus>
    {
        public void Report(TrainingStatus value) => steps.Add(value.Step);
    }
}
