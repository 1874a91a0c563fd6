using System.CommandLine;
using FaceForge.Synthesis;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge data synth`: writes the synthetic recognition set and, optionally, detection scenes.</summary>
internal static class DataSynthCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Output folder: the recognition set goes to OUT/faces (one folder per identity, landmarks.txt), scenes to OUT/scenes.", Required = true };
        var identities = new Option<int>("--identities") { Description = "Number of identities.", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var images = new Option<int>("--images") { Description = "Images per identity.", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var size = new Option<int>("--size") { Description = "Side of the aligned crops in pixels.", DefaultValueFactory = _ => 112 }.Between(32, 1024);
        var seed = new Option<int>("--seed") { Description = "Seed; the same seed gives the same data.", DefaultValueFactory = _ => 0 };
        var scenes = new Option<int>("--scenes") { Description = "Detection scenes to write to OUT/scenes (0: none).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var sceneOcclusion = new Option<double>("--scene-occlusion") { Description = "Fraction of scene faces given an occluder (1: every face, for a heavy-occlusion test set).", DefaultValueFactory = _ => 0.5 };
        var heavy = new Option<bool>("--heavy-occlusion") { Description = "Also cover a random half of every scene face (a heavy-occlusion test set)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var force = new Option<bool>("--force") { Description = "Replace the faces/ and scenes/ an --out folder already holds (the new ones are written aside and take their place once complete)." };
        var command = new Command("synth", "Generate synthetic face identities (aligned 112x112 crops with landmarks) and detection scenes.")
        {
            output, identities, images, size, seed, scenes, sceneOcclusion, heavy, json, force,
        };
        command.SetAction(parse =>
        {
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var options = new SyntheticFaceOptions
            {
                Identities = parse.GetValue(identities), ImagesPerIdentity = parse.GetValue(images), Size = parse.GetValue(size), Seed = parse.GetValue(seed),
                SceneOcclusionRate = parse.GetValue(sceneOcclusion), SceneHeavyOcclusion = parse.GetValue(heavy),
            };
            string dir = parse.GetValue(output)!;
            if (string.IsNullOrWhiteSpace(dir)) throw new UserErrorException("--out: give a folder for the generated data.");
            if (File.Exists(dir)) throw new UserErrorException($"--out: '{dir}' is a file; give a folder.");
            foreach (string part in new[] { "faces", "scenes" })
            {
                string existing = Path.Combine(dir, part);
                if (!Directory.Exists(existing) || !Directory.EnumerateFileSystemEntries(existing).Any()) continue;
                if (!parse.GetValue(force))
                    throw new UserErrorException($"--out: '{existing}' already holds data; a new set would mix with it. Choose another --out, or pass --force to replace it.");
            }
            options.Validate();
            int sceneCount = parse.GetValue(scenes);
            var summary = Generate(options, dir, sceneCount, progress);
            if (parse.GetValue(json)) JsonOutput.Write(parse.InvocationConfiguration.Output, summary);
            else parse.InvocationConfiguration.Output.WriteLine($"wrote {summary.Images} images of {summary.Identities} identities to {summary.Path}" + (sceneCount > 0 ? $" and {sceneCount} scenes to {summary.ScenesPath}" : ""));
            return 0;
        });
        return command;
    }

    internal sealed record Summary(string Path, int Identities, int Images, int Size, int Seed, string? ScenesPath, int Scenes, double Seconds);

    internal static Summary Generate(SyntheticFaceOptions options, string dir, int sceneCount, ProgressReporter progress)
    {
        var generator = new SyntheticFaces(options);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int total = options.Identities * options.ImagesPerIdentity;
        string facesDir = Path.Combine(dir, "faces");
        string scenesPath = Path.Combine(dir, "scenes");
        string? scenesDir = sceneCount > 0 ? scenesPath : null;
        // Each folder is staged and takes its place once written (scenes, then faces): a failure while writing either
        // leaves both as they were.
        AtomicFolder.Write(facesDir, faces =>
        {
            progress.Run("synthesising faces", total, "img", p => generator.WriteRecognitionSet(faces, p));
            if (scenesDir is not null)
                AtomicFolder.Write(scenesDir, scenes => progress.Run("synthesising scenes", sceneCount, "scene", p => generator.WriteDetectionScenes(scenes, sceneCount, p)));
        });
        // A replaced set without scenes: an old scenes/ (which --force was asked to replace) would pass for this set's.
        if (scenesDir is null && Directory.Exists(scenesPath)) Directory.Delete(scenesPath, recursive: true);
        return new Summary(Path.GetFullPath(facesDir), options.Identities, total, options.Size, options.Seed, scenesDir is null ? null : Path.GetFullPath(scenesDir), sceneCount, clock.Elapsed.TotalSeconds);
    }
}
