using FaceForge.Occlusion;
using FaceForge.Data;
using FaceForge.Embedding;
using FaceForge.Evaluation;
using FaceForge.Formats.PyTorch;
using FaceForge.Input;
using FaceForge.Models;
using FaceForge.Synthesis;
using FaceForge.Training.Embedding;
using FaceForge.Training.Heads;
using FaceForge.Training.Uncertainty;
using FaceForge.Training.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FaceForge.Tests;

/// <summary>A synthetic recognition set at 112x112 (the small test model's input): 6 identities x 5 images.</summary>
public sealed class Synthetic112Fixture
{
    public Synthetic112Fixture()
    {
        Root = TestPaths.NewTempDirectory("synth112");
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 6, ImagesPerIdentity = 5, Size = 112, Seed = 21 }).WriteRecognitionSet(Root, threads: 2);
        Model = TestModels.Random();
    }

    public string Root { get; }

    public string Model { get; }
}

/// <summary>Face quality and uncertainty: the records, scores, fusion, error-versus-reject, PFE's loss, sampler and trainer.</summary>
public class QualityTests(Synthetic112Fixture data) : IClassFixture<Synthetic112Fixture>
{
    [Fact]
    public void QualityIsTheMagnitudeOrMinusTheLogOfTheHarmonicMeanVariance()
    {
        var magnitude = FaceEmbedding.Create([0.6f, 0.8f], 23.5f, null, QualityKind.Magnitude);
        Assert.Equal(23.5, magnitude.Quality!.Value, 5);
        var uncertain = FaceEmbedding.Create([0.6f, 0.8f], 1, [0.5f, 2f], QualityKind.Uncertainty);
        // Harmonic mean of 0.5 and 2 is 2 / (2 + 0.5) = 0.8.
        Assert.Equal(0.8, uncertain.SigmaSqHarmonicMean!.Value, 6);
        Assert.Equal(-Math.Log(0.8), uncertain.Quality!.Value, 6);
        var none = FaceEmbedding.Create([1f, 0f], 3, null, QualityKind.None);
        Assert.Null(none.Quality);
        Assert.Contains("not positive and finite", Assert.Throws<ArgumentException>(() => FaceEmbedding.Create([1f, 0f], 1, [float.NaN, 1f], QualityKind.Uncertainty)).Message);
        Assert.Throws<ArgumentException>(() => FaceEmbedding.Create([1f, 0f], 1, [-1f, 1f], QualityKind.Uncertainty));
    }

    [Fact]
    public void MutualLikelihoodScoreMatchesTheFormula()
    {
        var a = new FaceEmbedding([1f, 0f], 1, [0.1f, 0.3f], null);
        var b = new FaceEmbedding([0f, 1f], 1, [0.2f, 0.1f], null);
        // -1/2 [ (1)^2/0.3 + ln 0.3 + (1)^2/0.4 + ln 0.4 ]
        double expected = -0.5 * (1 / 0.3 + Math.Log(0.3) + 1 / 0.4 + Math.Log(0.4));
        Assert.Equal(expected, Similarity.MutualLikelihood(a, b), 5);
        Assert.Equal(expected, Similarity.Compare(a, b, ComparisonScore.MutualLikelihood), 5);
        // The same means with smaller variances score higher when they agree.
        var c = a with { SigmaSq = [0.01f, 0.01f] };
        Assert.True(Similarity.MutualLikelihood(c, c) > Similarity.MutualLikelihood(a, a));
        Assert.Throws<ArgumentException>(() => Similarity.MutualLikelihood(new FaceEmbedding([1f, 0f], 1, null, null), a));
    }

    [Fact]
    public void FusedTemplateWeightsByInverseVarianceAndTakesThePosteriorVariance()
    {
        var sharp = new FaceEmbedding([1f, 0f], 1, [0.1f, 0.1f], null);
        var blurred = new FaceEmbedding([0f, 1f], 1, [0.9f, 0.9f], null);
        var fused = TemplateFusion.Combine([sharp, blurred], TemplateMode.Fused);
        // Weights 10 and 1.111: the mean leans to the sharp face; variance 1 / (10 + 1.111) = 0.09.
        Assert.Equal(1 / (1 / 0.1 + 1 / 0.9), fused.SigmaSq![0], 5);
        Assert.True(fused.SigmaSq[0] < 0.1f);
        double lean = fused.Vector[0] / fused.Vector[1];
        Assert.Equal(10 / (1 / 0.9), lean, 3);
        Assert.Equal(1, Math.Sqrt(fused.Vector.Sum(v => (double)v * v)), 5);
        var mean = TemplateFusion.Combine([sharp, blurred], TemplateMode.Mean);
        Assert.Equal(mean.Vector[0], mean.Vector[1], 5);
        Assert.Equal(0.5f, mean.SigmaSq![0], 5);
        Assert.Throws<ArgumentException>(() => TemplateFusion.Combine([new FaceEmbedding([1f, 0f], 1, null, null)], TemplateMode.Fused));
    }

    [Fact]
    public void FusedTemplatesIdentifyBetterWhenTheGalleryMixesSharpAndDegradedFaces()
    {
        // Two identities; each gallery holds one sharp true face and one confident-looking but wrong "degraded" face
        // with a large variance. Mean templates are pulled halfway; fused ones follow the sharp face.
        FaceEmbedding Face(float x, float y, float s) { var v = new[] { x, y, 0f }; Similarity.Normalize(v); return new FaceEmbedding(v, 1, [s, s, s], null); }
        var gallery = new[] { Face(1, 0, 0.05f), Face(-0.2f, 1, 2f), Face(0, 1, 0.05f), Face(1, -0.2f, 2f) };
        string[] galleryIds = ["a", "a", "b", "b"];
        var probes = new[] { Face(1, 0.45f, 0.05f), Face(0.45f, 1, 0.05f) };
        string[] probeIds = ["a", "b"];
        var meanReport = IdentificationProtocol.Score(galleryIds, gallery, probeIds, probes, new IdentificationOptions { Templates = TemplateMode.Mean });
        var fusedReport = IdentificationProtocol.Score(galleryIds, gallery, probeIds, probes, new IdentificationOptions { Templates = TemplateMode.Fused });
        Assert.Equal(0, meanReport.Rank1);
        Assert.Equal(1, fusedReport.Rank1);
    }

    [Fact]
    public void ErrorVersusRejectRemovesTheFailuresThatQualityPredicts()
    {
        // 20 identities x 2 images, near-orthogonal random directions; 4 genuine pairs fail outright (the second image
        // points the other way) and their second image has quality 0, all others 1.
        var random = new Random(4);
        var faces = new List<FaceEmbedding>();
        var identities = new List<string>();
        var genuine = new List<(int, int)>();
        var quality = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var u = Enumerable.Range(0, 64).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            Similarity.Normalize(u);
            bool fails = i % 5 == 0;
            faces.Add(new FaceEmbedding(u, 1, null, null));
            faces.Add(new FaceEmbedding(fails ? u.Select(x => -x).ToArray() : u, 1, null, null));
            identities.AddRange([$"p{i}", $"p{i}"]);
            quality.AddRange([1, fails ? i / 100.0 : 1]);
            genuine.Add((2 * i, 2 * i + 1));
        }
        var options = new ErrorVersusRejectOptions { Fmrs = [0.01] };
        var report = ErrorVersusReject.Run(faces, identities, genuine, new Dictionary<string, double[]> { ["q"] = quality.ToArray() }, options);
        Assert.Equal(20, report.GenuinePairs);
        Assert.Equal(40 * 39 / 2 - 20, report.ImpostorPairs);
        var curve = report.Curves["q"];
        Assert.Equal(4 / 20.0, curve.Fixed["0.01"][0], 9); // nothing rejected: the four failures
        Assert.Equal(2 / 18.0, curve.Fixed["0.01"][2], 9); // 10 %: two of them gone
        Assert.Equal(0, curve.Fixed["0.01"][4], 9);        // 20 %: all gone
        Assert.Equal(0, curve.Recomputed["0.01"][10], 9);
        Assert.Equal(0.1, curve.RejectedActual[2], 9);
        // Tied qualities are kept together: with one quality for every image, nothing can be rejected.
        var flat = ErrorVersusReject.Run(faces, identities, genuine, new Dictionary<string, double[]> { ["flat"] = quality.Select(_ => 1.0).ToArray() }, options).Curves["flat"];
        Assert.All(flat.RejectedActual, a => Assert.Equal(0, a));
        Assert.All(flat.Fixed["0.01"], f => Assert.Equal(0.2, f, 9));
        Assert.True(curve.AucFixed["0.01"] < 0.2 * 0.5);
        Assert.Throws<ArgumentException>(() => ErrorVersusReject.Run(faces, identities, [(0, 2)], new Dictionary<string, double[]>(), options));
        // 760 impostor pairs measure FMR 1e-2 but not 1e-3 (as eval verify's TAR at FAR): the lower rate is left out,
        // and a set too small for any rate asked is refused instead of giving curves of zeros.
        var both = ErrorVersusReject.Run(faces, identities, genuine, new Dictionary<string, double[]> { ["q"] = quality.ToArray() }, new ErrorVersusRejectOptions { Fmrs = [1e-3, 1e-2] });
        Assert.Equal(["0.01"], both.Thresholds.Keys);
        Assert.Equal(["0.01"], both.Curves["q"].Fixed.Keys);
        var few = ErrorVersusReject.Run(faces[..8], identities[..8], genuine[..4], new Dictionary<string, double[]> { ["q"] = quality[..8].ToArray() }, new ErrorVersusRejectOptions { Fmrs = [0.1] });
        Assert.Equal(24, few.ImpostorPairs);
        var tooFew = Assert.Throws<ArgumentException>(() => ErrorVersusReject.Run(faces[..8], identities[..8], genuine[..4], new Dictionary<string, double[]> { ["q"] = quality[..8].ToArray() }, options));
        Assert.Contains("24 impostor pairs cannot measure FMR 0.01", tooFew.Message);
    }

    [Fact]
    public void MutualLikelihoodLossMatchesHandValueAndFiniteDifferences()
    {
        var mu = torch.tensor(new float[] { 1, 0, 0.6f, 0.8f, 0, 1 }, [3, 2]);
        var logSigma = torch.tensor(new double[] { -1, -2, -0.5, -1.5, 0, -3 }, [3, 2], requires_grad: true);
        var labels = torch.tensor(new long[] { 7, 7, 9 });
        var loss = MutualLikelihoodLoss.Compute(mu, logSigma.to_type(ScalarType.Float32), labels);
        // Only (0, 1) is genuine: sum_d (mu0 - mu1)^2 / (s0 + s1) + ln(s0 + s1).
        double s0 = Math.Exp(-1) + Math.Exp(-0.5), s1 = Math.Exp(-2) + Math.Exp(-1.5);
        double expected = 0.4 * 0.4 / s0 + Math.Log(s0) + 0.8 * 0.8 / s1 + Math.Log(s1);
        Assert.Equal(expected, loss.item<float>(), 4);

        var x = torch.tensor(new double[] { -1, -2, -0.5, -1.5, 0, -3 }, [3, 2], requires_grad: true);
        var muD = mu.to_type(ScalarType.Float64);
        MutualLikelihoodLoss.Compute(muD, x, labels).backward();
        var analytic = x.grad!.data<double>().ToArray();
        var values = new double[] { -1, -2, -0.5, -1.5, 0, -3 };
        for (int i = 0; i < values.Length; i++)
        {
            double Loss(double delta)
            {
                var v = (double[])values.Clone();
                v[i] += delta;
                using var t = torch.tensor(v, [3, 2]);
                return MutualLikelihoodLoss.Compute(muD, t, labels).item<double>();
            }
            Assert.Equal((Loss(1e-6) - Loss(-1e-6)) / 2e-6, analytic[i], 5);
        }
        Assert.Throws<ArgumentException>(() => MutualLikelihoodLoss.Compute(mu, logSigma, torch.tensor(new long[] { 1, 2, 3 })));
    }

    [Fact]
    public void SamplerDrawsPIdentitiesTimesKImagesReproducibly()
    {
        using var set = ImageFolderDataset.Open(data.Root);
        var sampler = new IdentityBatchSampler(set, 3, 2, seed: 1);
        Assert.Equal(6, sampler.EligibleIdentities);
        Assert.Equal(2, sampler.BatchesPerEpoch);
        var (indices, draws) = sampler.Batch(0, 1);
        Assert.Equal(6, indices.Length);
        Assert.Equal(6, draws.Length);
        for (int p = 0; p < 3; p++)
        {
            Assert.Equal(set.GetLabel(indices[2 * p]), set.GetLabel(indices[2 * p + 1]));
            Assert.NotEqual(indices[2 * p], indices[2 * p + 1]);
        }
        Assert.Equal(indices, new IdentityBatchSampler(set, 3, 2, seed: 1).Batch(0, 1).Indices);
        var both = sampler.Batch(0, 0).Indices.Concat(indices).Select(set.GetLabel).Distinct().Count();
        Assert.Equal(6, both); // one epoch visits every identity once
        Assert.Contains("Only 0 of the 6 identities have at least 6 images", Assert.Throws<ArgumentException>(() => new IdentityBatchSampler(set, 3, 6, 1)).Message);
    }

    private UncertaintyTrainingConfig Config(int steps) => new()
    {
        Model = data.Model, Data = data.Root, IdentitiesPerBatch = 3, ImagesPerIdentity = 2, Epochs = 10, MaxSteps = steps, LearningRate = 0.01,
        LogEvery = 1, CheckpointEvery = 2, Seed = 2,
    };

    [Fact]
    public void UncertaintyHeadTrainsResumesExactlyAndShipsInTheModelFile()
    {
        string straight = TestPaths.NewTempDirectory("pfe-straight"), split = TestPaths.NewTempDirectory("pfe-split");
        var full = new UncertaintyTrainer(Config(5), straight).Run();
        Assert.Equal(5, full.Steps);
        using (var stop = new CancellationTokenSource())
            Assert.Equal(3, new UncertaintyTrainer(Config(5), split).Run(progress: new CancelAt(3, stop), cancellation: stop.Token).Steps);
        var resumed = new UncertaintyTrainer(Config(5), split).Run(resume: true);
        Assert.Equal(full.Losses[3].Loss, resumed.FirstLoss, 3);
        Assert.True(full.Losses[^1].Loss < full.Losses[0].Loss, $"loss {full.Losses[0].Loss} -> {full.Losses[^1].Loss}");

        // The frozen backbone is unchanged; the head is stored under "uncertainty."; quality says uncertainty.
        var (info, weights) = ModelFile.Read(full.ModelPath);
        Assert.Equal(QualityKind.Uncertainty, info.Quality);
        var (_, original) = ModelFile.Read(data.Model);
        foreach (var (name, tensor) in original) Assert.Equal(tensor.Data, weights[name].Data);
        Assert.Contains(weights.Keys, k => k.StartsWith(UncertaintyHead.WeightPrefix, StringComparison.Ordinal));

        using var embedder = TorchFaceEmbedder.Open(full.ModelPath);
        var crop = Imaging.ImageDecoder.Decode(Directory.GetFiles(Directory.GetDirectories(data.Root)[0])[0]);
        var face = embedder.EmbedFaces([crop], FlipMode.None)[0];
        Assert.Equal(32, face.SigmaSq!.Length);
        Assert.All(face.SigmaSq, s => Assert.True(s > 0 && float.IsFinite(s)));
        Assert.NotNull(face.Quality);
        using var plain = TorchFaceEmbedder.Open(data.Model);
        Assert.Equal(plain.EmbedFaces([crop], FlipMode.None)[0].Vector, face.Vector);
    }

    [Fact]
    public void UncertaintyHeadOnDegradedVariantsSeesOtherCropsAndResumesExactly()
    {
        var degraded = Config(4) with { DegradeProbability = 0.5, DegradedVariants = 2 };
        string clean = TestPaths.NewTempDirectory("pfe-clean"), straight = TestPaths.NewTempDirectory("pfe-degraded"), split = TestPaths.NewTempDirectory("pfe-degraded-split");
        var plain = new UncertaintyTrainer(Config(4), clean).Run();
        var full = new UncertaintyTrainer(degraded, straight).Run();
        // Same head initialisation and batches; only the degraded crops differ, so the first loss already does.
        Assert.NotEqual(plain.Losses[0].Loss, full.Losses[0].Loss);
        using (var stop = new CancellationTokenSource())
            new UncertaintyTrainer(degraded, split).Run(progress: new CancelAt(2, stop), cancellation: stop.Token);
        Assert.Equal(full.Losses[2].Loss, new UncertaintyTrainer(degraded, split).Run(resume: true).FirstLoss, 4);
        Assert.Contains("degrade_probability", Assert.Throws<ArgumentException>(() => (Config(1) with { DegradeProbability = 2 }).Validate()).Message);
    }

    [Fact]
    public void ResumeRefusesAModelFileThatChanged()
    {
        string dir = TestPaths.NewTempDirectory("pfe-changed"), model = Path.Combine(dir, "model.ffm"), run = Path.Combine(dir, "run");
        File.Copy(data.Model, model);
        var config = Config(4) with { Model = model };
        using (var stop = new CancellationTokenSource())
            new UncertaintyTrainer(config, run).Run(progress: new CancelAt(3, stop), cancellation: stop.Token);
        TorchSharp.torch.manual_seed(99);
        using (var other = Training.Backbones.BackboneCatalog.Create(TestModels.Small))
            ModelFile.Save(model, TestModels.Small, StateDict.Export(other));
        Assert.Contains("has changed since this run started", Assert.Throws<InvalidDataException>(() => new UncertaintyTrainer(config, run).Run(resume: true)).Message);
    }

    [Fact]
    public void CorruptHeadAndMismatchedFilesFailClearly()
    {
        var (info, weights) = ModelFile.Read(new UncertaintyTrainer(Config(1), TestPaths.NewTempDirectory("pfe-one")).Run().ModelPath);
        string dir = TestPaths.NewTempDirectory("pfe-bad");
        // beta = NaN: a model file is never written (nor read) with NaN weights.
        var nan = new Dictionary<string, TensorData>(weights) { ["uncertainty.beta"] = StateDict.ToData(torch.tensor(new[] { float.NaN })) };
        Assert.Contains("tensor 'uncertainty.beta' holds NaN or infinite values", Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(dir, "nan.ffm"), info, nan)).Message);
        Assert.False(File.Exists(Path.Combine(dir, "nan.ffm")));
        // beta = 1000: finite weights, but every variance overflows to infinity.
        var huge = new Dictionary<string, TensorData>(weights) { ["uncertainty.beta"] = StateDict.ToData(torch.tensor(new[] { 1000f })) };
        ModelFile.Save(Path.Combine(dir, "huge.ffm"), info, huge);
        using (var embedder = TorchFaceEmbedder.Open(Path.Combine(dir, "huge.ffm")))
        {
            var crop = new Imaging.RgbImage(112, 112);
            Assert.Contains("not positive and finite", Assert.Throws<ArgumentException>(() => embedder.EmbedFaces([crop], FlipMode.None)).Message);
        }
        // Head weights in a file that says no quality, and the reverse.
        ModelFile.Save(Path.Combine(dir, "unsaid.ffm"), info with { Quality = QualityKind.None }, weights);
        Assert.Contains("uncertainty-head weights", Assert.Throws<InvalidDataException>(() => TorchFaceEmbedder.Open(Path.Combine(dir, "unsaid.ffm"))).Message);
        var headless = weights.Where(w => !w.Key.StartsWith("uncertainty.", StringComparison.Ordinal)).ToDictionary();
        ModelFile.Save(Path.Combine(dir, "headless.ffm"), info, headless);
        Assert.Contains("no uncertainty-head weights", Assert.Throws<InvalidDataException>(() => TorchFaceEmbedder.Open(Path.Combine(dir, "headless.ffm"))).Message);
        // A head of another size (another embedding length).
        var resized = new Dictionary<string, TensorData>(weights) { ["uncertainty.fc2.weight"] = StateDict.ToData(torch.zeros(16, 32)) };
        ModelFile.Save(Path.Combine(dir, "resized.ffm"), info, resized);
        Assert.ThrowsAny<Exception>(() => TorchFaceEmbedder.Open(Path.Combine(dir, "resized.ffm")));
    }

    [Fact]
    public void CliRefusesQualitiesTheModelDoesNotCarry()
    {
        string crop = Directory.GetFiles(Directory.GetDirectories(data.Root)[0])[0];
        var (code, _, error) = CliHarness.Run("eval", "quality", "--model", data.Model, "--images", data.Root, "--pairs", crop, "--quality", "magnitude");
        Assert.Equal(2, code);
        Assert.Contains("carries quality 'none', not magnitude", error);
        (code, _, error) = CliHarness.Run("eval", "verify", "--model", data.Model, "--images", data.Root, "--pairs", "auto", "--score", "mls");
        Assert.Equal(2, code);
        Assert.Contains("--score mls", error);
        string dir = TestPaths.NewTempDirectory("pfe-cli");
        (code, _, error) = CliHarness.Run("train-uncertainty", "--model", data.Model, "--data", data.Root, "--out", Path.Combine(dir, "m.ffm"), "--identities-per-batch", "7", "--images-per-identity", "2");
        Assert.Equal(2, code);
        Assert.Contains("Only 6 of the 6 identities have at least 2 images", error);
        Assert.False(File.Exists(Path.Combine(dir, "m.ffm")));
        (code, var output, error) = CliHarness.Run("embed", "--model", data.Model, "--json", crop);
        Assert.Equal(0, code);
        Assert.Contains("\"quality\": null", output);
    }

    [SharedFact("data/mask-overlays")]
    public void DegradationsHitTheirRegionAndGrowWithSeverity()
    {
        var masks = MaskOverlay.LoadFolder(Path.Combine(TestPaths.Shared!, "data/mask-overlays"));
        var photo = new Imaging.RgbImage(200, 200);
        var pixels = photo.Pixels;
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(60 + (i / 3 % 200) / 2 + (i / 600 % 2) * 40);
        var m = new Alignment.FaceLandmarks(new(80, 80), new(120, 80), new(100, 105), new(85, 130), new(115, 130));
        double Changed(Imaging.RgbImage a, int x0, int y0, int x1, int y1)
        {
            int differ = 0;
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) for (int c = 0; c < 3; c++) differ += a.Pixels[(y * 200 + x) * 3 + c] != photo.Pixels[(y * 200 + x) * 3 + c] ? 1 : 0;
            return differ / (3.0 * (x1 - x0) * (y1 - y0));
        }
        var masked = Enumerable.Range(1, 3).Select(level => new Degradation(DegradationKind.Mask, level, level).Apply(photo, m, masks)).ToArray();
        foreach (var image in masked)
        {
            Assert.Equal(0, Changed(image, 70, 70, 130, 90)); // the eyes stay visible
            Assert.True(Changed(image, 85, 128, 115, 140) > 0.5, "the mouth is covered");
        }
        // Higher coverage reaches the nose.
        Assert.True(Changed(masked[2], 95, 100, 105, 106) > Changed(masked[0], 95, 100, 105, 106));
        var blurs = Degradation.Study.Where(d => d.Kind == DegradationKind.Blur).Select(d => Changed(d.Apply(photo, m), 0, 0, 200, 200)).ToArray();
        Assert.True(blurs[0] > 0 && blurs[0] <= blurs[2]);
        double Mean(Imaging.RgbImage image) => image.Pixels.ToArray().Average(b => (double)b);
        var dark = Degradation.Study.Where(d => d.Kind == DegradationKind.Darken).Select(d => Mean(d.Apply(photo, m))).ToArray();
        Assert.True(dark[0] < Mean(photo) && dark[1] < dark[0] && dark[2] < dark[1]);
        Assert.Equal(-1, DegradationStudy.Spearman([0, 1, 2, 3], [9, 7, 5, 1]), 9);
        Assert.Equal(0.8, DegradationStudy.Spearman([0, 1, 2, 3], [1, 2, 4, 3]), 9);
    }

    [Fact]
    public void DegradeAugmentationChangesSomeCropsRepeatablyAndValidatesItsProbability()
    {
        var crop = new Imaging.RgbImage(96, 112);
        var pixels = crop.Pixels;
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(40 + (i / 3 % 96) * 2 + (i / 288 % 2) * 30);
        var never = new AugmentationOptions { FlipProbability = 0 };
        var always = never with { DegradeProbability = 1 };
        var half = never with { DegradeProbability = 0.5 };
        Assert.True(Augmenter.Apply(crop, never, new Random(3)).Pixels.SequenceEqual(crop.Pixels));
        int changed = 0, halfChanged = 0;
        for (int seed = 0; seed < 40; seed++)
        {
            var a = Augmenter.Apply(crop, always, new Random(seed));
            Assert.True(a.Pixels.SequenceEqual(Augmenter.Apply(crop, always, new Random(seed)).Pixels), "one seed, one degradation");
            if (!a.Pixels.SequenceEqual(crop.Pixels)) changed++;
            if (!Augmenter.Apply(crop, half, new Random(seed)).Pixels.SequenceEqual(crop.Pixels)) halfChanged++;
        }
        Assert.True(changed >= 38, $"{changed} of 40 crops degraded at probability 1");
        Assert.InRange(halfChanged, 10, 30);
        Assert.Throws<ArgumentException>(() => new BatchLoaderOptions { Augmentation = never with { DegradeProbability = 1.5 } }.Augmentation.Validate());
        var error = Assert.Throws<ArgumentException>(() => new FaceForge.Training.Recognition.TrainingConfig { Data = "x", DegradeProbability = -0.1 }.Validate());
        Assert.Contains("degrade_probability", error.Message);
    }

    [SharedFact("data/lfw/pairs.txt")]
    public void EvalQualityPrintsCurvesAndAreasAndDrawsThePlot()
    {
        string dir = TestPaths.NewTempDirectory("erc-cli"), lfw = Path.Combine(TestPaths.Shared!, "data/lfw");
        SmallLfwPairs(dir);
        var (code, output, error) = CliHarness.Run("eval", "quality", "--model", data.Model, "--images", Path.Combine(lfw, "images"), "--pairs", Path.Combine(dir, "pairs.txt"),
            "--landmarks", Path.Combine(lfw, "landmarks.txt"), "--quality", "inter-ocular", "--quality", "random", "--report", Path.Combine(dir, "report"), "--json");
        Assert.True(code == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var curves = json.RootElement.GetProperty("curves");
        Assert.Equal(11, curves.GetProperty("inter-ocular").GetProperty("rejected").GetArrayLength());
        Assert.Equal(11, curves.GetProperty("random").GetProperty("fnmr").GetArrayLength());
        Assert.True(json.RootElement.GetProperty("auc").GetProperty("random").GetDouble() >= 0);
        Assert.Equal(20, json.RootElement.GetProperty("genuine_pairs").GetInt32());
        Assert.True(File.Exists(Path.Combine(dir, "report", "erc.png")));
        Assert.True(File.Exists(Path.Combine(dir, "report", "report.html")));
    }

    [SharedFact("data/lfw/pairs.txt")]
    public void EvalDegradationSharesTheDegradationsOutOverThePairs()
    {
        string dir = TestPaths.NewTempDirectory("degradation-cli"), lfw = Path.Combine(TestPaths.Shared!, "data/lfw");
        SmallLfwPairs(dir);
        var (code, output, error) = CliHarness.Run("eval", "degradation", "--model", data.Model, "--images", Path.Combine(lfw, "images"), "--pairs", Path.Combine(dir, "pairs.txt"),
            "--landmarks", Path.Combine(lfw, "landmarks.txt"), "--degradation", "blur", "--degradation", "jpeg", "--json");
        Assert.True(code == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal(7, json.RootElement.GetProperty("results").GetArrayLength());
        var mixed = json.RootElement.GetProperty("mixed");
        Assert.Equal(6, mixed.GetProperty("degradations").GetInt32());
        Assert.InRange(mixed.GetProperty("accuracy_cosine").GetDouble(), 0, 1);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, mixed.GetProperty("accuracy_mls").ValueKind);
        // The templates take the same identities and probes as each kind's row, their degraded images going round the kinds.
        var perKind = json.RootElement.GetProperty("identification")[0];
        Assert.Equal(perKind.GetProperty("identities").GetInt32(), mixed.GetProperty("identities").GetInt32());
        Assert.Equal(perKind.GetProperty("probes").GetInt32(), mixed.GetProperty("probes").GetInt32());
        Assert.InRange(mixed.GetProperty("rank1_mean").GetDouble(), 0, 1);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, mixed.GetProperty("rank1_fused").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, mixed.GetProperty("rank1_fused_mls").ValueKind);
        (code, output, error) = CliHarness.Run("eval", "degradation", "--model", data.Model, "--images", Path.Combine(lfw, "images"), "--pairs", Path.Combine(dir, "pairs.txt"),
            "--landmarks", Path.Combine(lfw, "landmarks.txt"), "--degradation", "jpeg");
        Assert.True(code == 0, error);
        Assert.Contains("3 degradations shared out over the pairs: accuracy cosine", output);
    }

    /// <summary>Two folds of 10 matched and 10 mismatched LFW pairs in <paramref name="dir"/>/pairs.txt (scored by the small untrained model).</summary>
    private static void SmallLfwPairs(string dir)
    {
        var body = File.ReadAllLines(Path.Combine(TestPaths.Shared!, "data/lfw/pairs.txt")).Skip(1).ToArray();
        var lines = new List<string> { "2\t10" };
        for (int f = 0; f < 2; f++) lines.AddRange(body.Skip(600 * f).Take(10).Concat(body.Skip(600 * f + 300).Take(10)));
        File.WriteAllLines(Path.Combine(dir, "pairs.txt"), lines);
    }
}
