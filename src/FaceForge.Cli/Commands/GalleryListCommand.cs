using System.CommandLine;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery list`: the enrolled subjects.</summary>
internal static class GalleryListCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var json = new Option<bool>("--json") { Description = "Print JSON: a list of {id, faces, metadata}." };
        var command = new Command("list", "List the enrolled subjects with their number of faces and metadata.") { gallery, json };
        command.SetAction(parse =>
        {
            using var opened = FaceGallery.Open(parse.GetValue(gallery)!);
            var subjects = opened.Subjects();
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, subjects);
            else
                foreach (var s in subjects)
                    writer.WriteLine($"{s.Id}\t{s.Faces}" + (s.Metadata.Count > 0 ? "\t" + string.Join(' ', s.Metadata.Select(m => $"{m.Key}={m.Value}")) : ""));
            return 0;
        });
        return command;
    }
}
