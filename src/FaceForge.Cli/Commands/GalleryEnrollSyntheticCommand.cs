using System.CommandLine;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge gallery enroll-synthetic` (hidden): enrols random vectors in batches, one transaction each, printing
/// "committed N" after each commit. The durability test kills it mid-way and checks the file; not for users.
/// </summary>
internal static class GalleryEnrollSyntheticCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var faces = new Option<int>("--faces") { DefaultValueFactory = _ => 10_000 }.AtLeast(1);
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 100 }.AtLeast(1);
        var dimensions = new Option<int>("--dim") { DefaultValueFactory = _ => 64 }.Between(1, 4096);
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var command = new Command("enroll-synthetic", "Test only: enrol random vectors (subject s<i/4>) in batches.") { gallery, faces, batch, dimensions, seed };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            string path = parse.GetValue(gallery)!;
            int dim = parse.GetValue(dimensions), total = parse.GetValue(faces), size = parse.GetValue(batch), s = parse.GetValue(seed);
            using var opened = File.Exists(path) || Directory.Exists(path) ? FaceGallery.Open(path) : FaceGallery.Create(path, Model(dim));
            var writer = parse.InvocationConfiguration.Output;
            for (int start = opened.Count; start < total; start += size)
            {
                var items = Enumerable.Range(start, Math.Min(size, total - start))
                    .Select(i => new GalleryFace($"s{i / 4}", SyntheticEmbeddings.Vector(s, i, dim), Source: $"synthetic:{i}")).ToList();
                opened.Enroll(items);
                writer.WriteLine($"committed {opened.Count}");
                writer.Flush();
            }
            return 0;
        });
        return command;
    }

    /// <summary>The recorded "model" of a synthetic gallery: no file, a fixed fingerprint.</summary>
    public static GalleryModel Model(int dimensions) => new("synthetic", "synthetic", dimensions, "arcface", "(synthetic)", null);
}
