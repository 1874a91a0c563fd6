using System.CommandLine;
using FaceForge.Data;
using FaceForge.Embedding;
using FaceForge.Evaluation;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval identify`: 1:N identification, closed-set rank-1 and rank-5, and open-set DIR at FPIR.</summary>
internal static class EvalIdentifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file.", Required = true };
        var gallery = new Option<string>("--gallery") { Description = "Folder of identity folders: the enrolled faces (aligned).", Required = true };
        var probes = new Option<string>("--probes") { Description = "Folder of identity folders: the faces to identify (aligned). Folders named as a gallery identity are mated probes; the others are unknown (open-set) probes.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print JSON: rank1, rank5, probes, unknown_probes, identities, dir_at_fpir (0.01, 0.1)." };
        var templates = new Option<string>("--templates")
        {
            Description = "How an identity's gallery images become one template: mean (normalised sum), or fused (PFE: each dimension weighted by 1/sigma^2; the template's variance is 1 / sum 1/sigma^2; needs an uncertainty head).",
            DefaultValueFactory = _ => "mean",
        };
        templates.AcceptOnlyFromAmong("mean", "fused");
        var score = ModelInputs.ScoreOption();
        var command = new Command("identify", "1:N identification against a gallery (one template per identity): rank-1, rank-5 and open-set DIR at FPIR 1 % and 10 %.") { model, gallery, probes, templates, score, json };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string modelPath = parse.GetValue(model)!;
            if (!File.Exists(modelPath)) throw new UserErrorException($"--model: '{modelPath}' does not exist.");
            using var embedder = ModelInputs.OpenEmbedder(modelPath, "--model");
            var mode = parse.GetValue(templates) == "fused" ? TemplateMode.Fused : TemplateMode.Mean;
            if (mode == TemplateMode.Fused) ModelInputs.RequireQuality(embedder, Models.QualityKind.Uncertainty, "--templates fused");
            var options = new IdentificationOptions { Templates = mode, Score = ModelInputs.Score(parse.GetValue(score)!, embedder) };
            var protocol = new IdentificationProtocol(Items(parse.GetValue(gallery)!, "--gallery"), Items(parse.GetValue(probes)!, "--probes"), options);
            var source = new AlignedImageSource("", null, embedder.Info.AlignmentTemplate);
            IdentificationReport result;
            try
            {
                result = progress.Run("embedding", protocol.Gallery.Count + protocol.Probes.Count, "img", p => protocol.Run(embedder, source.Load, p));
            }
            catch (ArgumentException e) when (e.Message.StartsWith("No probe", StringComparison.Ordinal))
            {
                throw new UserErrorException("No probe identity folder matches a gallery identity folder by name.");
            }
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                JsonOutput.Write(writer, new { result.Rank1, result.Rank5, result.Probes, result.UnknownProbes, result.Identities, result.DirAtFpir, result.OpenSetNote, Templates = parse.GetValue(templates), Score = parse.GetValue(score) });
            else
            {
                writer.WriteLine($"rank-1 {100 * result.Rank1:0.00} %, rank-5 {100 * result.Rank5:0.00} % over {result.Probes} probes and {result.Identities} identities");
                foreach (var (fpir, dir) in result.DirAtFpir)
                    writer.WriteLine(dir is double d ? $"DIR at FPIR {fpir}: {100 * d:0.00} % ({result.UnknownProbes} unknown probes)" : $"DIR at FPIR {fpir}: not measurable ({result.OpenSetNote})");
            }
            return 0;
        });
        return command;
    }

    /// <summary>Every image of a folder of identity folders, as (absolute path, identity folder name).</summary>
    private static List<(string Image, string Identity)> Items(string root, string option)
    {
        if (!Directory.Exists(root)) throw new UserErrorException($"{option}: folder '{root}' does not exist.");
        using var set = ImageFolderDataset.Open(root);
        if (set.Count == 0) throw new UserErrorException($"{option}: '{root}' holds no images in identity folders.");
        return Enumerable.Range(0, set.Count).Select(i => (Path.Combine(set.Root, set.RelativePath(i)), set.IdentityNames[set.GetLabel(i)])).ToList();
    }
}
