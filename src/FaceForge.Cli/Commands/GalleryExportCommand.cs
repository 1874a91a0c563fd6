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
        var command = new Command("export", "Write the gallery to a JSON file: model, threshold, subjects (id, metadata) and faces (id, subject, quality, source, vector).") { gallery, output };
        command.SetAction(parse =>
        {
            using var opened = FaceGallery.Open(parse.GetValue(gallery)!);
            string path = parse.GetValue(output)!;
            if (Directory.Exists(path)) throw new UserErrorException($"--out: '{path}' is a folder; give a file name.");
            AtomicFile.Write(path, opened.Export);
            parse.InvocationConfiguration.Output.WriteLine($"exported {opened.Count} faces to {path}");
            return 0;
        });
        return command;
    }
}
