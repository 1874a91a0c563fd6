using System.CommandLine;
using FaceForge.Alignment;
using FaceForge.Evaluation;
using FaceForge.Imaging;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge data split-lfw`: the training folder of the LFW protocol (people outside the test folds).</summary>
internal static class DataSplitLfwCommand
{
    public static Command Create()
    {
        var images = new Option<string>("--images") { Description = "LFW image root (Name/Name_0001.jpg).", Required = true };
        var pairs = new Option<string>("--pairs") { Description = "pairs.txt.", Required = true };
        var testFolds = new Option<string>("--test-folds") { Description = "Held-out folds, e.g. 6-10 (1-based).", DefaultValueFactory = _ => "6-10" }.FoldList();
        var output = new Option<string>("--out") { Description = "Output folder: one sub-folder per training identity.", Required = true };
        var landmarks = new Option<string?>("--landmarks") { Description = "Landmarks file: write aligned crops instead of copies." };
        var template = new Option<string>("--template") { Description = $"Crop template with --landmarks: {string.Join(", ", AlignmentTemplate.All.Select(t => t.Name))}.", DefaultValueFactory = _ => AlignmentTemplate.ArcFace112.Name };
        var json = new Option<bool>("--json") { Description = "Print JSON: identities, images, out." };
        var force = new Option<bool>("--force") { Description = "Replace an --out folder that already holds files (the new split is written aside and takes its place once complete)." };
        var command = new Command("split-lfw", "Write LFW's training split: everyone not in a pair of the test folds.") { images, pairs, testFolds, output, landmarks, template, json, force };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            string root = parse.GetValue(images)!;
            if (!Directory.Exists(root)) throw new UserErrorException($"--images: folder '{root}' does not exist.");
            string pairsPath = parse.GetValue(pairs)!;
            if (!File.Exists(pairsPath)) throw new UserErrorException($"--pairs: '{pairsPath}' does not exist.");
            var folds = LfwPairs.ParseFolds(parse.GetValue(testFolds)!);
            var allPairs = LfwPairs.Read(pairsPath);
            int foldCount = allPairs.Max(p => p.Fold) + 1;
            if (folds.FirstOrDefault(f => f >= foldCount, -1) is int absent and >= 0)
                throw new UserErrorException($"--test-folds: fold {absent + 1} does not exist ('{pairsPath}' has folds 1-{foldCount}).");
            string target = parse.GetValue(output)!;
            if (File.Exists(target)) throw new UserErrorException($"--out: '{target}' is a file; give a folder.");
            ReplacedOutput.RequireEmptyFolder(target, parse.GetValue(force), "split");
            // --force replaces --out: inputs inside it would be replaced too; an --out inside the images would be read as people.
            ReplacedOutput.RequireApart(target, root, [("--pairs", pairsPath), ("--landmarks", parse.GetValue(landmarks))]);
            var people = LfwSplit.TrainingIdentities(root, allPairs, folds);
            if (people.Count == 0)
                throw new UserErrorException($"--test-folds: holding out folds {string.Join(",", folds.Select(f => f + 1))} leaves nobody in '{root}' to train on (every person is in a test fold).");
            var points = ImageInputs.Landmarks(parse.GetValue(landmarks));
            var crop = AlignmentTemplate.FromName(parse.GetValue(template)!);
            var files = people.SelectMany(p => Directory.GetFiles(Path.Combine(root, p)).Order(StringComparer.Ordinal).Select(f => (Person: p, File: f))).ToList();
            // Written whole or not at all: a failure (a full disk) leaves --out as it was, a replaced split included.
            AtomicFolder.Write(target, outDir => progress.Run("writing split", files.Count, "img", progress =>
            {
                int done = 0;
                Parallel.ForEach(files, item =>
                {
                    string folder = Path.Combine(outDir, item.Person);
                    Directory.CreateDirectory(folder);
                    string name = Path.GetFileName(item.File);
                    if (points is null)
                        File.Copy(item.File, Path.Combine(folder, name), overwrite: true);
                    else if (points.TryGetValue($"{item.Person}/{name}", out var face))
                        ImageEncoder.Save(FaceAligner.Align(ImageDecoder.Decode(item.File), face, crop), Path.Combine(folder, Path.ChangeExtension(name, ".png")));
                    else
                        throw new UserErrorException($"The landmarks file has no entry for '{item.Person}/{name}'.");
                    progress.Report(Interlocked.Increment(ref done));
                });
            }));
            var result = new { Identities = people.Count, Images = files.Count, Out = Path.GetFullPath(target), TestFolds = folds.Select(f => f + 1).ToArray() };
            if (parse.GetValue(json)) JsonOutput.Write(parse.InvocationConfiguration.Output, result);
            else parse.InvocationConfiguration.Output.WriteLine($"wrote {result.Images} images of {result.Identities} identities to {result.Out}");
            return 0;
        });
        return command;
    }
}
