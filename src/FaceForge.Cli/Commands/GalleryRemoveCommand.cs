using System.CommandLine;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery remove`: a subject and all its faces.</summary>
internal static class GalleryRemoveCommand
{
    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var subject = new Option<string>("--subject") { Description = "The subject id to remove (with all its faces).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print JSON: subject, removed (faces), faces (left)." };
        var command = new Command("remove", "Remove a subject and all its faces (one transaction).") { gallery, subject, json };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(gallery)!;
            string id = parse.GetValue(subject)!;
            using var opened = FaceGallery.Open(path);
            int removed = opened.Remove(id) ?? throw new UserErrorException($"{path}: no subject '{id}' (see 'faceforge gallery list').");
            var writer = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) JsonOutput.Write(writer, new { Subject = id, Removed = removed, Faces = opened.Count });
            else writer.WriteLine($"removed '{id}' ({removed} face(s)); {opened.Count} faces left");
            return 0;
        });
        return command;
    }
}
