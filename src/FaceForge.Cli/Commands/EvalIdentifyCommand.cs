using System.CommandLine;
using FaceForge.Data;
using FaceForge.Embedding;
using FaceForge.Training.Embedding;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge eval identify`: closed-set 1:N identification, rank-1 and rank-5.</summary>
internal static class EvalIdentifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "FaceForge model file.", Required = true };
        var gallery = new Option<string>("--gallery") { Description = "Folder of identity folders: the enrolled faces (aligned).", Required = true };
        var probes = new Option<string>("--probes") { Description = "Folder of identity folders: the faces to identify (aligned; folder names match the gallery's).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print JSON: rank1, rank5, probes, identities." };
        var command = new Command("identify", "1:N identification accuracy against a gallery (one mean template per identity).") { model, gallery, probes, json };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string modelPath = parse.GetValue(model)!;
            if (!File.Exists(modelPath)) throw new UserErrorException($"--model: '{modelPath}' does not exist.");
            using var embedder = TorchFaceEmbedder.Load(modelPath);
            using var gallerySet = ImageFolderDataset.Open(parse.GetValue(gallery)!);
            using var probeSet = ImageFolderDataset.Open(parse.GetValue(probes)!);
            var source = (ImageFolderDataset set) => new AlignedImageSource(set.Root, null, embedder.Info.AlignmentTemplate);
            float[][] Embed(ImageFolderDataset set, string what) => progress.Run($"embedding {what}", set.Count, "img",
                p => EmbeddingBatcher.EmbedAll(embedder, Enumerable.Range(0, set.Count).Select(set.RelativePath).ToList(), source(set).Load, FlipMode.Add, 64, p));
            var galleryVectors = Embed(gallerySet, "gallery");
            var templates = Enumerable.Range(0, gallerySet.IdentityCount).Select(id =>
            {
                var members = Enumerable.Range(0, gallerySet.Count).Where(i => gallerySet.GetLabel(i) == id).ToList();
                var mean = new float[galleryVectors[0].Length];
                foreach (int m in members) for (int d = 0; d < mean.Length; d++) mean[d] += galleryVectors[m][d];
                Similarity.Normalize(mean);
                return mean;
            }).ToArray();
            var names = gallerySet.IdentityNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
            var probeVectors = Embed(probeSet, "probes");
            int total = 0, rank1 = 0, rank5 = 0;
            for (int p = 0; p < probeSet.Count; p++)
            {
                if (!names.TryGetValue(probeSet.IdentityNames[probeSet.GetLabel(p)], out int truth)) continue;
                total++;
                var ranked = Enumerable.Range(0, templates.Length).OrderByDescending(t => Similarity.Cosine(probeVectors[p], templates[t])).Take(5).ToList();
                if (ranked[0] == truth) rank1++;
                if (ranked.Contains(truth)) rank5++;
            }
            if (total == 0) throw new UserErrorException("No probe identity folder matches a gallery identity folder by name.");
            var writer = parse.InvocationConfiguration.Output;
            var result = new { Rank1 = rank1 / (double)total, Rank5 = rank5 / (double)total, Probes = total, Identities = templates.Length };
            if (parse.GetValue(json)) JsonOutput.Write(writer, result);
            else writer.WriteLine($"rank-1 {100 * result.Rank1:0.00} %, rank-5 {100 * result.Rank5:0.00} % over {total} probes and {templates.Length} identities");
            return 0;
        });
        return command;
    }
}
