using System.CommandLine;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery export`: the gallery as one JSON file (model, subjects with metadata, faces with vectors).</summary>
internal static class GalleryExportCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var output = new Option<string>("--out") { Description = "The JSON file to write (see docs/gallery.md for its format).", Required = true };
        var force = ReplacedOutput.ForceOption();
        var command = new Command("export", "Write the gallery to a JSON file: model, threshold, subjects (id, metadata) and faces (id, subject, quality, source, vector).") { gallery, output, force };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(output)!;
            if (Path.GetFullPath(path) == Path.GetFullPath(parse.GetValue(gallery)!)) throw new UserErrorException("--out: the export would overwrite the gallery itself.");
            ReplacedOutput.RequireNewFile(path, parse.GetValue(force));
            using var opened = FaceGallery.Open(parse.GetValue(gallery)!);
            AtomicFile.Write(path, opened.Export);
            parse.InvocationConfiguration.Output.WriteLine($"exported {opened.Count} faces to {path}");
            return 0;
        });
        return command;
    }
}
