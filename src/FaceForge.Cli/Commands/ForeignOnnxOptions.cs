using System.CommandLine;
using FaceForge.Embedding;

namespace FaceForge.Cli.Commands;

/// <summary>
/// --onnx-template, --onnx-mean, --onnx-std: how to feed an ONNX recognition model that FaceForge did not export
/// (InsightFace's, say), which carries no metadata saying so. FaceForge's own exports need none of them.
/// </summary>
internal sealed class ForeignOnnxOptions
{
    public Option<string?> Template { get; } = new("--onnx-template")
    {
        Description = $"For an ONNX model without FaceForge metadata: its alignment template ({string.Join(", ", Alignment.AlignmentTemplate.All.Select(t => t.Name))}).",
    };

    public Option<float?> Mean { get; } = new("--onnx-mean") { Description = "For an ONNX model without FaceForge metadata: its pixel normalisation mean (InsightFace: 127.5)." };

    public Option<float?> Std { get; } = new("--onnx-std") { Description = "For an ONNX model without FaceForge metadata: its pixel normalisation divisor (InsightFace: 127.5)." };

    /// <summary>Adds the three options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Template);
        command.Options.Add(Mean);
        command.Options.Add(Std);
    }

    /// <summary>What the command line states.</summary>
    public OnnxEmbedderOptions Read(ParseResult parse) => new()
    {
        Template = parse.GetValue(Template), NormalizationMean = parse.GetValue(Mean), NormalizationStd = parse.GetValue(Std),
    };
}
