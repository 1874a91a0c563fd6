using FaceForge.Alignment;
using FaceForge.Data;
using FaceForge.Input;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Detection;
using FaceForge.Training.Distillation;
using FaceForge.Training.Hosting;
using FaceForge.Training.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

/// <summary>Angular distillation: the loss, the paired crops, the frozen teacher, generations, resume and bad inputs.</summary>
public class DistillationTests(Synthetic112Fixture data) : IClassFixture<Synthetic112Fixture>
{
    /// <summary>A 112x96 SphereFace-template teacher (MobileFaceNet-CASIA layout at width 0.125, 16-d), seeded.</summary>
    private static string Teacher(string dir, int seed = 7)
    {
        var info = BackboneCatalog.Defaults("mobilefacenet-casia") with { Options = new() { ["width"] = 0.125 }, EmbeddingSize = 16 };
        torch.manual_seed(seed);
        using var network = BackboneCatalog.Create(info);
        string path = Path.Combine(dir, "teacher.ffm");
        ModelFile.Save(path, info, StateDict.Export(network));
        return path;
    }

    private DistillationConfig Config(string teacher, int steps) => new()
    {
        Teacher = teacher, Student = "mobilefacenet", Width = 0.125, Data = data.Root, Landmarks = Path.Combine(data.Root, "landmarks.txt"),
        BatchSize = 8, Workers = 1, Epochs = 10, MaxSteps = steps, LogEvery = 1, CheckpointEvery = 1, WarmupEpochs = 0, Seed = 3,
        AlignmentJitter = 0.05,
    };

    [Fact]
    public void LossIsWeightTimesSquaredDistanceOfUnitEmbeddings()
    {
        using var student = torch.tensor(new double[] { 3, 4, 1, 1 }, [2, 2]);
        using var teacher = torch.tensor(new double[] { 2, 0, -1, 1 }, [2, 2]);
        // Row 1: (0.6, 0.8) vs (1, 0): 0.16 + 0.64 = 0.8 = 2 - 2 x 0.6. Row 2: orthogonal unit vectors: 2. Mean 1.4, x 7.
        using var loss = DistillationLoss.Compute(student, teacher, 7);
        Assert.Equal(7 * 1.4, loss.item<double>(), 10);

        // Gradient by finite differences (float64).
        using var x = torch.tensor(new double[] { 0.3, -1.2, 0.8, 2.0, 0.5, 0.1 }, [2, 3]).requires_grad_(true);
        using var t = torch.tensor(new double[] { 1.0, 0.4, -0.3, -0.2, 0.9, 1.5 }, [2, 3]);
        DistillationLoss.Compute(x, t, 7).backward();
        var analytic = x.grad!.data<double>().ToArray();
        var values = x.detach().data<double>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            double At(double delta)
            {
                var moved = (double[])values.Clone();
                moved[i] += delta;
                using var m = torch.tensor(moved, [2, 3]);
                using var l = DistillationLoss.Compute(m, t, 7);
                return l.item<double>();
            }
            double numeric = (At(1e-6) - At(-1e-6)) / 2e-6;
            Assert.Equal(numeric, analytic[i], 6);
        }
        Assert.Contains("N x d", Assert.Throws<ArgumentException>(() => DistillationLoss.Compute(x, t.reshape(3, 2), 7)).Message);
    }

    [Fact]
    public void BothCropsOfASampleComeFromOneAugmentationDraw()
    {
        // The SphereFace 112x96 template is the ArcFace 112x112 one moved 8 px left, so for the same landmarks and the
        // same draw the teacher's crop is the student's columns 8 … 103, flipped or not, grey or not, together.
        using var dataset = FaceDataset.Open(data.Root);
        var landmarks = DistillationTask.LandmarksByIndex(dataset, data.Root, Path.Combine(data.Root, "landmarks.txt"));
        var loader = new BatchLoader(dataset, new BatchLoaderOptions
        {
            BatchSize = 30, Workers = 1, Seed = 4, Landmarks = landmarks, Template = AlignmentTemplate.ArcFace112,
            ExtraViews = [new InputView(96, 112, PixelNormalization.SphereFace, AlignmentTemplate.SphereFace112x96)],
            Augmentation = new AugmentationOptions { FlipProbability = 0.5, GrayProbability = 0.5, AlignmentJitter = 0.1 },
        });
        using var batch = loader.Epoch(0).Single();
        Assert.Equal(2, batch.ViewCount);
        Assert.Equal((96, 112), batch.ViewSize(1));
        var student = batch.ViewPixels(0).ToArray();
        var teacher = batch.ViewPixels(1).ToArray();
        float S(int n, int c, int y, int x) => student[((n * 3 + c) * 112 + y) * 112 + x] * 127.5f + 127.5f;
        float T(int n, int c, int y, int x) => teacher[((n * 3 + c) * 112 + y) * 96 + x] * 128f + 127.5f;
        for (int n = 0; n < batch.Count; n++)
        {
            double same = 0, mirrored = 0;
            for (int c = 0; c < 3; c++)
            for (int y = 0; y < 112; y++)
            for (int x = 0; x < 96; x++)
            {
                same = Math.Max(same, Math.Abs(T(n, c, y, x) - S(n, c, y, x + 8)));
                mirrored += Math.Abs(T(n, c, y, x) - S(n, c, y, 103 - x));
            }
            Assert.True(same <= 1.01, $"sample {n}: the teacher's crop differs from the student's by {same:0.00} levels");
            // The faces are not mirror-symmetric: a crop flipped in one view only would be caught.
            Assert.True(mirrored / (3 * 112 * 96) > 3, $"sample {n}: mirrored crops differ by only {mirrored / (3 * 112 * 96):0.00} levels");
        }
    }

    [Fact]
    public void AStepTrainsTheStudentAndLeavesTheTeacherUnchanged()
    {
        string dir = TestPaths.NewTempDirectory("distill-step"), teacher = Teacher(dir);
        var config = Config(teacher, 3) with { EmbeddingSize = 24 }; // 24-d student, 16-d teacher: a training-only projection
        var (_, saved) = ModelFile.Read(teacher);
        torch.manual_seed(3);
        using var task = new DistillationTask(config, 1, "hash");
        Assert.Equal(24, task.StudentInfo.EmbeddingSize);
        var before = StateDict.Export(task.StudentNetwork);
        var result = task.Step(new StepContext(0, 0, 0, 3, CancellationToken.None))!.Value;
        Assert.True(double.IsFinite(result.Loss));
        Assert.InRange(result.Metrics!["distill_loss"], 0, 7 * 4);
        Assert.True(result.Metrics["margin_loss"] > 0);
        foreach (var (name, tensor) in StateDict.Export(task.TeacherNetwork)) Assert.Equal(saved[name].Data, tensor.Data);
        var after = StateDict.Export(task.StudentNetwork);
        Assert.Contains(before.Keys, k => !before[k].Data.SequenceEqual(after[k].Data));
    }

    [Fact]
    public void ClassCentresStartAtEachIdentitysMeanTeacherEmbedding()
    {
        string dir = TestPaths.NewTempDirectory("distill-centres"), teacher = Teacher(dir);
        var config = Config(teacher, 1) with { AlignmentJitter = 0, LearningRate = 1e-9, WeightDecay = 0, Momentum = 0 };
        using var task = new DistillationTask(config, 1, "hash");
        task.Step(new StepContext(0, 0, 0, 1, CancellationToken.None));
        var centres = StateDict.ToTensor(task.ClassifierState()["weight"]);
        // The teacher's own embeddings of its aligned crops, averaged per identity.
        using var dataset = FaceDataset.Open(data.Root);
        var points = LandmarksFile.Read(Path.Combine(data.Root, "landmarks.txt"));
        using var embedder = Training.Embedding.TorchFaceEmbedder.Open(teacher);
        var folder = (ImageFolderDataset)dataset;
        for (int identity = 0; identity < dataset.IdentityCount; identity++)
        {
            var crops = Enumerable.Range(0, dataset.Count).Where(i => dataset.GetLabel(i) == identity)
                .Select(i => FaceAligner.Align(Imaging.ImageDecoder.Decode(dataset.Describe(i)), points[folder.RelativePath(i)], AlignmentTemplate.SphereFace112x96)).ToList();
            var mean = new float[16];
            foreach (var face in embedder.EmbedFaces(crops, Embedding.FlipMode.None))
                for (int d = 0; d < 16; d++) mean[d] += face.Vector[d];
            float norm = MathF.Sqrt(mean.Sum(v => v * v));
            var row = centres[identity].data<float>().ToArray();
            for (int d = 0; d < 16; d++) Assert.Equal(mean[d] / norm, row[d], 3);
        }
    }

    [Fact]
    public void AGenerationCutShortStopsTheChainAndResumeFinishesIt()
    {
        string dir = TestPaths.NewTempDirectory("distill-cut"), teacher = Teacher(dir), run = Path.Combine(dir, "run");
        var (code, _, error) = CliHarness.Run("distill", "--teacher", teacher, "--student", "mobilefacenet", "--width", "0.125", "--data", data.Root,
            "--landmarks", Path.Combine(data.Root, "landmarks.txt"), "--out", run, "--generations", "2", "--batch-size", "8", "--max-steps", "2", "--max-seconds", "0.001");
        Assert.True(code == 0, error);
        Assert.Contains("faceforge distill --resume", error);
        Assert.False(Directory.Exists(Path.Combine(run, "gen-2")));
        (code, var output, error) = CliHarness.Run("distill", "--resume", run, "--max-seconds", "0", "--json");
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(run, "gen-2", "model.ffm")), output);
        Assert.True(File.Exists(Path.Combine(run, "model.ffm")));
        // A generation's folder holds a config.json too: resumed as a run it trained a new generation 1 inside itself and
        // replaced the generation's finished student.
        byte[] student = File.ReadAllBytes(Path.Combine(run, "gen-1", "model.ffm"));
        (code, _, error) = CliHarness.Run("distill", "--resume", Path.Combine(run, "gen-1"));
        Assert.Equal(2, code);
        Assert.Contains($"is one generation of the distillation run '{run}'; resume the run: --resume {run}.", error);
        Assert.Equal(student, File.ReadAllBytes(Path.Combine(run, "gen-1", "model.ffm")));
        Assert.False(Directory.Exists(Path.Combine(run, "gen-1", "gen-1")));
    }

    [Fact]
    public void GenerationTwoStartsFromGenerationOneAndResumeIsExact()
    {
        string dir = TestPaths.NewTempDirectory("distill-gens"), teacher = Teacher(dir);
        var config = Config(teacher, 4) with { Generations = 2 };
        using var straight = new Distiller(config, Path.Combine(dir, "straight"));
        Assert.Equal([(1, false, false), (2, false, false)], straight.Prepare(resume: false, force: false));
        var full = straight.RunGeneration(1, resume: false, force: false);
        Assert.Equal(4, full.Steps);

        // Cut after 2 steps, then resume: the third step's loss is the uninterrupted run's.
        using (var split = new Distiller(config, Path.Combine(dir, "split")))
        {
            split.Prepare(false, false);
            using (var stop = new CancellationTokenSource())
                Assert.Equal(2, split.RunGeneration(1, false, false, new CancelAt(2, stop), stop.Token).Steps);
            Assert.Equal([(1, true, false), (2, false, true)], split.Prepare(resume: true, force: false));
            var resumed = split.RunGeneration(1, resume: true, force: false);
            Assert.Equal(full.Losses[2].Loss, resumed.FirstLoss, 4);
            // Generation 2 killed before its first checkpoint leaves loose files: resume rebuilds it.
            Directory.CreateDirectory(split.Generation(2).Path);
            File.WriteAllText(split.Generation(2).ConfigPath, "{}");
            Assert.Equal([(2, false, true)], split.Prepare(resume: true, force: false));
            Assert.Equal(4, split.RunGeneration(2, resume: false, force: true).Steps);
            Assert.True(File.Exists(split.ModelPath));
        }

        // Generation 2 is initialised from generation 1's student (and says so in its config.json).
        using (var unstarted = new Distiller(config, Path.Combine(dir, "fresh")))
            Assert.Contains("has not finished", Assert.Throws<ArgumentException>(() => unstarted.RunGeneration(2, false, false)).Message);
        var second = straight.RunGeneration(2, resume: false, force: false);
        Assert.Contains(straight.Generation(1).ModelPath.Replace("\\", "\\\\"), File.ReadAllText(straight.Generation(2).ConfigPath));
        Assert.True(File.Exists(straight.ModelPath));
        var (_, first) = ModelFile.Read(full.ModelPath);
        var (_, next) = ModelFile.Read(second.ModelPath);
        var info = DistillationTask.InfoFor(config, ModelFile.ReadInfo(teacher));
        torch.manual_seed(config.Seed + 1);
        using var fresh = BackboneCatalog.Create(info);
        var random = StateDict.Export(fresh);
        string conv = first.Keys.First(k => k.EndsWith("weight", StringComparison.Ordinal) && first[k].Shape.Length == 4);
        Assert.True(Cosine(first[conv], next[conv]) > 0.9, $"generation 2 moved far from generation 1 ({Cosine(first[conv], next[conv]):0.000})");
        Assert.True(Cosine(first[conv], random[conv]) < 0.5, "a fresh student would look like generation 1");
        Assert.Empty(straight.Prepare(resume: true, force: false));
    }

    /// <summary>One generation of <paramref name="config"/> straight through, and again cut after step 2 and resumed.</summary>
    private static (TrainingResult Full, TrainingResult Resumed) StraightAndResumedAfterTwoSteps(DistillationConfig config, string dir)
    {
        using var straight = new Distiller(config, Path.Combine(dir, "straight"));
        straight.Prepare(false, false);
        var full = straight.RunGeneration(1, resume: false, force: false);
        using var split = new Distiller(config, Path.Combine(dir, "split"));
        split.Prepare(false, false);
        using (var stop = new CancellationTokenSource())
            Assert.Equal(2, split.RunGeneration(1, false, false, new CancelAt(2, stop), stop.Token).Steps);
        split.Prepare(resume: true, force: false);
        return (full, split.RunGeneration(1, resume: true, force: false));
    }

    [Fact]
    public void AnAdamWStudentResumesWithItsMomentsAndReachesTheUninterruptedLoss()
    {
        string dir = TestPaths.NewTempDirectory("distill-adamw"), teacher = Teacher(dir);
        var config = Config(teacher, 4) with { Optimizer = Training.Recognition.OptimizerKind.AdamW, LearningRate = 0.002, WeightDecay = 0.05 };
        Assert.Contains("\"optimizer\": \"AdamW\"", config.ToJson());
        // Step 3's loss rests on the restored weights; step 4's also on step 3's update, which uses Adam's first and
        // second moments: they must come back from the checkpoint too.
        var (full, resumed) = StraightAndResumedAfterTwoSteps(config, dir);
        Assert.Equal(full.Losses[2].Loss, resumed.FirstLoss, 4);
        Assert.Equal(4, resumed.Losses[^1].Step);
        Assert.Equal(full.Losses[3].Loss, resumed.Losses[^1].Loss, 4);
        // And the student did train with AdamW: SGD at the same rate takes another second step.
        using var sgd = new Distiller(config with { Optimizer = Training.Recognition.OptimizerKind.Sgd, MaxSteps = 2 }, Path.Combine(dir, "sgd"));
        sgd.Prepare(false, false);
        Assert.NotEqual(Math.Round(full.Losses[1].Loss, 4), Math.Round(sgd.RunGeneration(1, resume: false, force: false).Losses[1].Loss, 4));
    }

    [Fact]
    public void ReplicatedStudentAndTeacherTrainAndResumeExactly()
    {
        string dir = TestPaths.NewTempDirectory("distill-replicas"), teacher = Teacher(dir);
        var config = Config(teacher, 3) with { Replicas = 2 };
        var (full, resumed) = StraightAndResumedAfterTwoSteps(config, dir);
        Assert.All(full.Losses, l => Assert.True(double.IsFinite(l.Loss)));
        Assert.Equal(full.Losses[2].Loss, resumed.FirstLoss, 5);
        // Every weight of the student got a gradient through the copies (summed into the primary, which steps).
        torch.manual_seed(3);
        using var task = new DistillationTask(config, 1, "hash");
        Assert.True(double.IsFinite(task.Step(new StepContext(0, 0, 0, 3, CancellationToken.None))!.Value.Loss));
        Assert.All(task.StudentNetwork.parameters().Where(p => p.requires_grad), p => Assert.True(p.grad is { } g && g.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void MixupBlendsBothCropsWithOnePartnerAndOneLambda()
    {
        torch.manual_seed(21);
        using var student = torch.randn(40, 3, 4, 5);
        using var teacher = torch.randn(40, 3, 4, 3); // another crop size, as the SphereFace teacher's
        var mixup = new BatchMixup(0.5, seed: 9);
        var (views, unmixed) = mixup.Apply([student, teacher], step: 17);
        var (partners, lambdas) = mixup.Draw(40, 17);
        var s = student.data<float>().ToArray();
        var t = teacher.data<float>().ToArray();
        var ms = views[0].data<float>().ToArray();
        var mt = views[1].data<float>().ToArray();
        for (int i = 0; i < 40; i++)
        {
            int p = partners[i];
            float l = lambdas[i];
            Assert.InRange(l, 0f, 1f);
            if (p == i) Assert.Equal(1f, l);
            for (int k = 0; k < 60; k++) Assert.Equal(l * s[i * 60 + k] + (1 - l) * s[p * 60 + k], ms[i * 60 + k], 5);
            for (int k = 0; k < 36; k++) Assert.Equal(l * t[i * 36 + k] + (1 - l) * t[p * 36 + k], mt[i * 36 + k], 5);
        }
        var kept = unmixed.data<long>().ToArray();
        Assert.Equal(Enumerable.Range(0, 40).Where(i => partners[i] == i).Select(i => (long)i), kept);
        Assert.InRange(kept.Length, 10, 30); // about half of 40 blended
        // The draw is the seed's and the step's alone (a resumed run blends as the straight one); another step differs.
        Assert.Equal(partners, new BatchMixup(0.5, seed: 9).Draw(40, 17).Partners);
        Assert.NotEqual(partners, mixup.Draw(40, 18).Partners);
        Assert.All(Enumerable.Range(0, 40), i => Assert.Equal(i, new BatchMixup(0, 9).Draw(40, 17).Partners[i]));
        Assert.All(Enumerable.Range(0, 40), i => Assert.NotEqual(i, new BatchMixup(1, 9).Draw(40, 17).Partners[i]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchMixup(1.5, 0));
        foreach (var v in views) v.Dispose();
        unmixed.Dispose();
    }

    [Fact]
    public void OneBackwardGivesTheGradientOfMarginLossPlusDistillation()
    {
        // A linear "backbone" and a 5-class ArcFace classifier: the step's one-pass backward against the plain
        // backward of the summed loss; with mixup the margin loss sees the unblended rows only (here 3 or none).
        torch.manual_seed(11);
        using var input = torch.randn(6, 10);
        using var target = torch.randn(6, 4);
        using var labels = torch.tensor(new long[] { 0, 1, 2, 3, 4, 0 });
        using var all = torch.arange(6, ScalarType.Int64);
        using var rows = torch.tensor(new long[] { 0, 2, 3 });
        using var none = torch.zeros(0, ScalarType.Int64);
        foreach (var marginRows in new Tensor?[] { null, rows, none })
        {
            var grads = new List<float[]>();
            var margins = new List<double>();
            foreach (bool onePass in new[] { true, false })
            {
                torch.manual_seed(12);
                using var backbone = nn.Linear(10, 4);
                var head = Training.Heads.CombinedMarginHead.ArcFace(0.5, 16);
                using var classifier = new Training.Classifiers.MarginSoftmaxClassifier(5, 4, head, seed: 1);
                var embeddings = backbone.call(input);
                if (onePass)
                {
                    var training = new Training.Recognition.FullSoftmaxTraining(classifier);
                    margins.Add(DistillationTask.Backward(embeddings, embeddings, target, labels, training, 7, marginRows)!.Value.Margin);
                }
                else
                {
                    var distill = DistillationLoss.Compute(embeddings, target, 7);
                    var seen = marginRows ?? all;
                    if (seen.shape[0] == 0) distill.backward();
                    else Training.Runtime.TensorSum.Add(classifier.call(embeddings.index_select(0, seen), labels.index_select(0, seen)), distill).backward();
                }
                grads.Add(backbone.weight!.grad!.data<float>().ToArray());
                if (marginRows is null) grads.Add(classifier.parameters().First().grad!.data<float>().ToArray());
            }
            Assert.Equal(grads[grads.Count / 2].Length, grads[0].Length);
            for (int g = 0; g < grads.Count / 2; g++)
            for (int i = 0; i < grads[g].Length; i++) Assert.Equal(grads[grads.Count / 2 + g][i], grads[g][i], 4);
            Assert.Contains(grads[0], v => Math.Abs(v) > 1e-3);
            if (marginRows is { } r && r.shape[0] == 0) Assert.Equal(0, margins[0]);
            else Assert.True(margins[0] > 0);
        }
    }

    [Fact]
    public void AMixupRunResumesExactly()
    {
        string dir = TestPaths.NewTempDirectory("distill-mixup"), teacher = Teacher(dir);
        var config = Config(teacher, 3) with { MixupProbability = 0.5 };
        var (full, resumed) = StraightAndResumedAfterTwoSteps(config, dir);
        Assert.Equal(full.Losses[2].Loss, resumed.FirstLoss, 5);
        // Blending changes what the student sees: the same run without it has another first loss.
        using var plain = new Distiller(config with { MixupProbability = 0, MaxSteps = 1 }, Path.Combine(dir, "plain"));
        plain.Prepare(false, false);
        Assert.NotEqual(Math.Round(full.Losses[0].Loss, 5), Math.Round(plain.RunGeneration(1, resume: false, force: false).Losses[0].Loss, 5));
        Assert.Contains("mixup_probability", Assert.Throws<ArgumentException>(() => (config with { MixupProbability = -0.1 }).Validate()).Message);
        // Without a distillation term a blend would only drop samples from the margin loss.
        var noTeacherTerm = Assert.Throws<ArgumentException>(() => (config with { Weight = 0 }).Validate()).Message;
        Assert.Contains("mixup_probability", noTeacherTerm);
        Assert.Contains("weight", noTeacherTerm);
        (config with { Weight = 0, MixupProbability = 0 }).Validate();
    }

    [Fact]
    public void MixupStartsAtTheGenerationAsked()
    {
        string dir = TestPaths.NewTempDirectory("distill-mixup-from"), teacher = Teacher(dir);
        var config = Config(teacher, 1) with { Generations = 2, MaxSteps = 1, MixupProbability = 0.5, MixupFromGeneration = 2 };
        double[] FirstLosses(DistillationConfig c, string name)
        {
            using var distiller = new Distiller(c, Path.Combine(dir, name));
            distiller.Prepare(false, false);
            return [.. Enumerable.Range(1, 2).Select(g => distiller.RunGeneration(g, resume: false, force: false).Losses[0].Loss)];
        }
        var late = FirstLosses(config, "late");
        var plain = FirstLosses(config with { MixupProbability = 0 }, "plain");
        Assert.Equal(plain[0], late[0]); // generation 1 trains without blends
        Assert.NotEqual(Math.Round(plain[1], 5), Math.Round(late[1], 5)); // generation 2 blends
        Assert.Contains("mixup_from_generation", Assert.Throws<ArgumentException>(() => (config with { MixupFromGeneration = 3 }).Validate()).Message);
        Assert.Contains("mixup_from_generation", Assert.Throws<ArgumentException>(() => (config with { MixupFromGeneration = 0 }).Validate()).Message);
    }

    [Fact]
    public void ATeacherThatChangesBetweenGenerationsIsRefused()
    {
        string dir = TestPaths.NewTempDirectory("distill-teacher"), teacher = Teacher(dir);
        var config = Config(teacher, 1) with { Generations = 2 };
        using var distiller = new Distiller(config, Path.Combine(dir, "run"));
        distiller.Prepare(false, false);
        distiller.RunGeneration(1, false, false);
        Teacher(dir, seed: 8);
        Assert.Contains("has changed since this distillation run started", Assert.Throws<InvalidDataException>(() => distiller.RunGeneration(2, false, false)).Message);
        Assert.Throws<InvalidDataException>(() => distiller.Prepare(resume: true, force: false));
    }

    [Fact]
    public void BadInputsGetOneLineErrors()
    {
        string dir = TestPaths.NewTempDirectory("distill-bad"), teacher = Teacher(dir), run = Path.Combine(dir, "run");
        string[] Args(params string[] extra) => ["distill", "--teacher", teacher, "--student", "mobilefacenet", "--width", "0.125", "--data", data.Root, "--out", run, .. extra];

        var detector = Path.Combine(dir, "detector.ffm");
        ModelFile.Save(detector, DetectorCatalog.Defaults(DetectorCatalog.Names[0]), new Dictionary<string, Formats.PyTorch.TensorData>());
        var (code, _, error) = CliHarness.Run(["distill", "--teacher", detector, "--data", data.Root, "--landmarks", Path.Combine(data.Root, "landmarks.txt"), "--out", run]);
        Assert.Equal(2, code);
        Assert.Contains("a teacher must be a recognition model", error);

        // Photos without landmarks (not a known template's crop size): neither network can take them as they are.
        string photos = Path.Combine(dir, "photos");
        for (int i = 0; i < 4; i++)
        {
            Directory.CreateDirectory(Path.Combine(photos, $"p{i % 2}"));
            Imaging.ImageEncoder.Save(new Imaging.RgbImage(250, 250), Path.Combine(photos, $"p{i % 2}", $"{i}.png"));
        }
        (code, _, error) = CliHarness.Run(["distill", "--teacher", teacher, "--student", "mobilefacenet", "--width", "0.125", "--data", photos, "--out", run]);
        Assert.Equal(2, code);
        Assert.Contains("is a 250x250 crop", error);
        Assert.Contains("--landmarks", error);
        // 112x112 ArcFace crops without landmarks: the 112x96 teacher takes them reframed, so the next check speaks.
        (code, _, error) = CliHarness.Run(Args());
        Assert.Equal(2, code);
        Assert.Contains("fewer than one batch of 64", error);

        (code, _, error) = CliHarness.Run(Args("--landmarks", Path.Combine(data.Root, "landmarks.txt"), "--generations", "0"));
        Assert.Equal(2, code);
        Assert.Contains("--generations", error);

        (code, _, error) = CliHarness.Run(Args("--landmarks", Path.Combine(data.Root, "landmarks.txt")));
        Assert.Equal(2, code);
        Assert.Contains("fewer than one batch of 64", error);

        string partial = Path.Combine(dir, "partial.txt");
        File.WriteAllLines(partial, File.ReadAllLines(Path.Combine(data.Root, "landmarks.txt")).Skip(1));
        (code, _, error) = CliHarness.Run(Args("--landmarks", partial));
        Assert.Equal(2, code);
        Assert.Contains("has no points for 1 of the 30 images", error);

        (code, _, error) = CliHarness.Run(["distill", "--teacher", teacher, "--student", "resnet-9000", "--data", data.Root, "--out", run]);
        Assert.Equal(2, code);
        Assert.Contains("vargfacenet", error);
        Assert.False(Directory.Exists(run), "a refused run left a folder behind");

        (code, var output, error) = CliHarness.Run(Args("--landmarks", Path.Combine(data.Root, "landmarks.txt"), "--max-steps", "1", "--batch-size", "8", "--json"));
        Assert.True(code == 0, error);
        Assert.Contains("\"generations\"", output);
        (code, _, error) = CliHarness.Run(Args("--landmarks", Path.Combine(data.Root, "landmarks.txt"), "--batch-size", "8"));
        Assert.Equal(2, code);
        Assert.Contains("holds a distillation run. Choose another --out, or pass --force", error);
        (code, _, error) = CliHarness.Run("distill", "--resume", run);
        Assert.Equal(2, code);
        Assert.Contains("nothing is left to resume", error);
    }

    private static double Cosine(Formats.PyTorch.TensorData a, Formats.PyTorch.TensorData b)
    {
        using var x = StateDict.ToTensor(a).flatten();
        using var y = StateDict.ToTensor(b).flatten();
        return nn.functional.cosine_similarity(x, y, dim: 0).item<float>();
    }

}
