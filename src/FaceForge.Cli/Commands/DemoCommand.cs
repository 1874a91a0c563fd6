using System.CommandLine;
using FaceForge.Data;
using FaceForge.Synthesis;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge demo`: the README's first command. Generates the embedded synthetic data, then checks and summarises
/// it. (Training and verification join the demo with the recognition-training work.)
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Working folder.", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "faceforge-demo") };
        var identities = new Option<int>("--identities") { Description = "Synthetic identities.", DefaultValueFactory = _ => 200 }.AtLeast(2);
        var images = new Option<int>("--images") { Description = "Images per identity.", DefaultValueFactory = _ => 8 }.AtLeast(2);
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("demo", "Run the main job on embedded synthetic data.") { output, identities, images, seed, json };
        command.SetAction(parse =>
        {
            var options = new SyntheticFaceOptions { Identities = parse.GetValue(identities), ImagesPerIdentity = parse.GetValue(images), Seed = parse.GetValue(seed) };
            string dir = parse.GetValue(output)!;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var synth = DataSynthCommand.Generate(options, dir, sceneCount: 20);
            using var dataset = ImageFolderDataset.Open(synth.Path);
            var check = ProgressReporter.Run("checking images", dataset.Count, "img", p => DatasetValidation.Check(dataset, skipBad: false, p));
            string prefix = Path.Combine(dir, "faces-packed");
            var (packed, _) = ProgressReporter.Run("packing RecordIO", dataset.Count, "img", p => DatasetPacker.Pack(dataset, prefix, validate: false, progress: p));
            var summary = new
            {
                Folder = synth.Path, check.Identities, check.Images, Bad = check.Bad.Count, Scenes = synth.Scenes, ScenesFolder = synth.ScenesPath,
                RecordIo = Path.GetFullPath(prefix + ".rec"), Packed = packed, Seconds = Math.Round(clock.Elapsed.TotalSeconds, 2),
            };
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, summary);
            else
            {
                writer.WriteLine($"synthetic faces: {check.Identities} identities x {options.ImagesPerIdentity} images ({check.Images}) in {synth.Path}, {check.Bad.Count} unreadable");
                writer.WriteLine($"detection scenes: {synth.Scenes} in {synth.ScenesPath}");
                writer.WriteLine($"RecordIO: {packed} images in {summary.RecordIo}");
                writer.WriteLine($"done in {summary.Seconds:0.0} s");
            }
            return 0;
        });
        return command;
    }
}
