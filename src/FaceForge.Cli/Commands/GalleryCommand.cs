using System.CommandLine;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge gallery`: a persistent face gallery (one SQLite file) for 1:N identification.</summary>
internal static class GalleryCommand
{
    public static Command Create()
    {
        var gallery = new Command("gallery", "Enrol subjects into a face gallery file and identify faces against it (see docs/gallery.md).");
        gallery.Subcommands.Add(GalleryCreateCommand.Create());
        gallery.Subcommands.Add(GalleryEnrollCommand.Create());
        gallery.Subcommands.Add(GalleryIdentifyCommand.Create());
        gallery.Subcommands.Add(GalleryCalibrateCommand.Create());
        gallery.Subcommands.Add(GalleryListCommand.Create());
        gallery.Subcommands.Add(GalleryRemoveCommand.Create());
        gallery.Subcommands.Add(GalleryStatsCommand.Create());
        gallery.Subcommands.Add(GalleryExportCommand.Create());
        gallery.Subcommands.Add(GalleryEnrollSyntheticCommand.Create());
        return gallery;
    }

    /// <summary>The GALLERY argument.</summary>
    public static Argument<string> GalleryArgument() => new("GALLERY") { Description = "The gallery file (SQLite), e.g. faces.gallery." };

    /// <summary>The --model override of the recorded model.</summary>
    public static Option<string?> ModelOverride() => new("--model")
    {
        Description = "Use this model file instead of the one recorded at creation (accepted only with the same weights fingerprint, e.g. the recorded model moved or its ONNX export).",
    };

    /// <summary>The --detector option of the commands that read images into an existing gallery.</summary>
    public static Option<string?> DetectorOverride() => new("--detector")
    {
        Description = "Use this face detector instead of the one recorded at creation (e.g. the recorded file moved, or its ONNX export); only for galleries created with a detector.",
    };
}
