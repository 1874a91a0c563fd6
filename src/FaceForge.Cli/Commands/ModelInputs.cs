using System.CommandLine;
using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Models;
using FaceForge.Pipeline;
using FaceForge.Training.Runtime;

namespace FaceForge.Cli.Commands;

/// <summary>The model files of the commands (detectors, recognition models) and the detection thresholds they share.</summary>
internal static class ModelInputs
{
    public static Option<float> Confidence() => new("--confidence") { Description = "Minimum detection score.", DefaultValueFactory = _ => 0.5f };

    public static Option<float> Nms() => new("--nms") { Description = "NMS IoU threshold.", DefaultValueFactory = _ => 0.4f };

    public static Option<string?> Scales() => new("--scales") { Description = "Extra input scales for TorchSharp detectors, e.g. 0.5,2 (the original scale always runs); detections are merged by NMS." };

    public static Option<bool> NoBrighten() => new("--no-brighten") { Description = "Show the detector dark photos as they are (by default a photo whose brightest 1 % is below mid-grey is stretched for the detector; boxes refer to the photo as given)." };

    public static Option<int> MaxSide() => new("--max-side") { Description = "Downscale photos whose longer side exceeds this before detecting (results are mapped back).", DefaultValueFactory = _ => 640 };

    /// <summary>Opens an ONNX detector (YuNet, Ultra-Light) or a FaceForge detector model file (RetinaFace).</summary>
    public static IFaceDetector Open(string path, string option, float confidence = 0.5f, float nms = 0.4f, int maxSide = 640, string? scales = null, bool noBrighten = false)
    {
        var extra = new List<float>();
        foreach (string item in (scales ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            extra.Add(float.TryParse(item, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float v) && v > 0 && v <= 4
                ? v : throw new UserErrorException($"--scales: '{item}' is not a scale in (0, 4]."));
        if (!File.Exists(path)) throw new UserErrorException($"{option}: '{path}' does not exist.");
        // Checked here so the message names the option (DetectorOptions names its properties).
        if (!(confidence >= 0 && confidence <= 1)) throw new UserErrorException($"--confidence: {confidence} is not a score in [0, 1].");
        if (!(nms > 0 && nms <= 1)) throw new UserErrorException($"--nms: {nms} is not an overlap in (0, 1].");
        if (maxSide < DetectorOptions.MinMaxSide) throw new UserErrorException($"--max-side: {maxSide} is below {DetectorOptions.MinMaxSide} pixels.");
        var options = new DetectorOptions { ConfidenceThreshold = confidence, NmsThreshold = nms, MaxSide = maxSide, BrightenDarkPhotos = !noBrighten };
        return new FaceModels(new TorchModelBackend(extra)).OpenDetector(path, options);
    }

    /// <summary>Whether the CLI takes <paramref name="path"/> for an ONNX model: by its name, as the model backends do.</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens a recognition model file: FaceForge .ffm through libtorch, ONNX (FaceForge's exports, or others with <paramref name="onnx"/>) through ONNX Runtime.</summary>
    public static IFaceEmbedder OpenEmbedder(string path, string option, OnnxEmbedderOptions? onnx = null)
    {
        if (!File.Exists(path)) throw new UserErrorException($"{option}: '{path}' does not exist.");
        bool isOnnx = IsOnnx(path);
        if (onnx is { Template: not null } or { NormalizationMean: not null } or { NormalizationStd: not null } && !isOnnx)
            throw new UserErrorException($"--onnx-template, --onnx-mean and --onnx-std apply to ONNX models; '{path}' is not one.");
        if (!isOnnx) return new FaceModels(new TorchModelBackend()).OpenEmbedder(path);
        try
        {
            return new OnnxFaceEmbedder(path, onnx);
        }
        catch (InvalidDataException e) when (e.Message.Contains("no FaceForge metadata", StringComparison.Ordinal))
        {
            throw new UserErrorException($"{e.Message} On the command line: --onnx-template, --onnx-mean and --onnx-std (InsightFace models: arcface-112x112, 127.5, 127.5).");
        }
        catch (InvalidDataException e) when (e.Message.Contains("stating a template or normalisation", StringComparison.Ordinal))
        {
            throw new UserErrorException($"{e.Message[..^1]} (--onnx-template, --onnx-mean, --onnx-std).");
        }
    }

    /// <summary>--score cosine|mls.</summary>
    public static Option<string> ScoreOption()
    {
        var option = new Option<string>("--score") { Description = "Pair score: cosine, or mls (mutual likelihood; needs a model with an uncertainty head).", DefaultValueFactory = _ => "cosine" };
        option.AcceptOnlyFromAmong("cosine", "mls");
        return option;
    }

    /// <summary>The score <paramref name="name"/> names, checked against what <paramref name="embedder"/> carries.</summary>
    public static ComparisonScore Score(string name, IFaceEmbedder embedder)
    {
        if (name != "mls") return ComparisonScore.Cosine;
        RequireQuality(embedder, QualityKind.Uncertainty, "--score mls");
        return ComparisonScore.MutualLikelihood;
    }

    /// <summary>Fails clearly when the model does not carry <paramref name="kind"/>.</summary>
    public static void RequireQuality(IFaceEmbedder embedder, QualityKind kind, string asker)
    {
        if (embedder.Info.Quality == kind) return;
        string how = kind == QualityKind.Magnitude ? "train or fine-tune it with --head mag-face" : "add an uncertainty head with faceforge train-uncertainty";
        throw new UserErrorException($"{asker}: the model ({embedder.Info.Architecture}) carries quality '{embedder.Info.Quality.ToString().ToLowerInvariant()}', not {kind.ToString().ToLowerInvariant()}: {how}.");
    }
}
