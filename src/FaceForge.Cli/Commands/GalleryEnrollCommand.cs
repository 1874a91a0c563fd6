using System.CommandLine;
using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Gallery;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge gallery enroll`: faces of one subject (--subject ID IMAGES…) or of a folder of identity folders
/// (--folder DIR, subject id = folder name), written in one transaction.
/// </summary>
internal static class GalleryEnrollCommand
{
    /// <summary>Exit code when some images were refused (the others were enrolled).</summary>
    public const int SomeRefusedExitCode = 3;

    public static Command Create()
    {
        var gallery = GalleryCommand.GalleryArgument();
        var images = new Argument<string[]>("IMAGES") { Description = "Images of the subject given by --subject.", Arity = ArgumentArity.ZeroOrMore };
        var subject = new Option<string?>("--subject") { Description = "The subject id of IMAGES; an id already enrolled gets these faces as extra templates." };
        var folder = new Option<string?>("--folder") { Description = "A folder of identity folders: each folder name is a subject id, its images that subject's faces." };
        var largest = new Option<bool>("--largest") { Description = "A photo with several faces enrols its largest one (without it, such a photo is refused)." };
        var minQuality = new Option<double?>("--min-quality") { Description = "Refuse faces whose model quality is below this (needs a model that carries quality: MagFace magnitude or PFE uncertainty)." };
        var meta = new Option<string[]>("--meta") { Description = "Metadata KEY=VALUE for --subject (repeatable; merged into the subject's).", AllowMultipleArgumentsPerToken = false };
        var strict = new Option<bool>("--strict") { Description = "Enrol nothing when any image is refused (no face, several faces, low quality)." };
        var model = GalleryCommand.ModelOverride();
        var detector = GalleryCommand.DetectorOverride();
        var json = new Option<bool>("--json") { Description = "Print JSON: enrolled (count), subjects, refused (image, reason), skipped (image, reason: faces the subject already holds), faces (gallery total)." };
        var command = new Command("enroll", $"Enrol faces into a gallery, all in one transaction. Photos: no face, or several faces without --largest, are refused (named); a face the subject already holds (the same photo again) is skipped; exit code {SomeRefusedExitCode} when some images were refused.")
        {
            gallery, images, subject, folder, largest, minQuality, meta, strict, model, detector, json,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(gallery)!;
            var refused = new List<(string Image, string Reason)>();
            var items = Items(parse.GetValue(subject), parse.GetValue(folder), parse.GetValue(images) ?? [], refused);
            var metadata = Metadata(parse.GetValue(meta) ?? [], parse.GetValue(subject));
            double? min = parse.GetValue(minQuality);
            if (min is double q && !double.IsFinite(q)) throw new UserErrorException($"--min-quality: {q} is not a number.");
            using var opened = FaceGallery.Open(path);
            // The gallery's rule for new ids (spaces around one), applied before any embedding: --subject is refused; in a
            // folder, that identity folder's photos are refused by name and the others enrolled.
            if (parse.GetValue(subject) is { } given && opened.NewSubjectIdProblem(given) is { } problem)
                throw new UserErrorException($"--subject: {problem}");
            foreach (var item in items.ToList())
                if (opened.NewSubjectIdProblem(item.Subject) is { } folderProblem)
                {
                    refused.Add((item.Image, $"the identity folder's name: {folderProblem} Rename the folder."));
                    items.Remove(item);
                }
            using var inputs = GalleryInputs.Open(opened, path, parse.GetValue(model), parse.GetValue(detector));
            if (min is not null && inputs.Embedder.Info.Quality == Models.QualityKind.None)
                throw new UserErrorException($"--min-quality: the gallery's model ({inputs.Embedder.Info.Architecture}) carries no quality; train it with --head mag-face or add an uncertainty head, or drop --min-quality.");
            bool several = parse.GetValue(largest);
            IReadOnlyList<DetectedFace> Choose(string image, IReadOnlyList<DetectedFace> faces)
            {
                if (faces.Count == 0) refused.Add((image, "no face found"));
                else if (faces.Count > 1 && !several) refused.Add((image, $"{faces.Count} faces found (give --largest to enrol the largest)"));
                else return [faces.MaxBy(f => f.Box.Area)!];
                return [];
            }
            var progress = new ProgressReporter(parse.InvocationConfiguration.Error);
            var found = progress.Run("embedding", items.Count, "img", p => inputs.Faces(items.Select(i => i.Image).ToList(), Choose, p,
                // A folder's unreadable files are refused like faceless photos; an image named on the command line is an error.
                parse.GetValue(folder) is null ? null : (image, why) => refused.Add((image, $"unreadable: {why}"))));
            var faces = new List<GalleryFace>();
            var bySubject = new Dictionary<string, List<GalleryFace>>(StringComparer.Ordinal);
            var skipped = new List<(string Image, string Reason)>();
            for (int i = 0; i < items.Count; i++)
                foreach (var face in found[i])
                {
                    if (min is double floor && face.Embedding.Quality is double quality && quality < floor)
                        refused.Add((items[i].Image, $"quality {quality:0.###} below --min-quality {floor}"));
                    else if (Duplicate(opened, bySubject, items[i].Subject, face.Embedding.Vector) is { } reason)
                        skipped.Add((items[i].Image, reason));
                    else
                    {
                        var accepted = new GalleryFace(items[i].Subject, face.Embedding.Vector, face.Embedding.Quality, Path.GetFullPath(items[i].Image));
                        faces.Add(accepted);
                        string id = FaceGallery.CanonicalSubject(accepted.Subject);
                        if (!bySubject.TryGetValue(id, out var list)) bySubject[id] = list = [];
                        list.Add(accepted);
                    }
                }
            var error = parse.InvocationConfiguration.Error;
            foreach (var (image, reason) in refused) error.WriteLine($"refused '{image}': {reason}");
            foreach (var (image, reason) in skipped) error.WriteLine($"skipped '{image}': {reason}");
            if (refused.Count > 0 && parse.GetValue(strict))
                throw new UserErrorException($"--strict: {refused.Count} image(s) refused (first: '{refused[0].Image}': {refused[0].Reason}); nothing was enrolled.");
            // Faces and metadata in one transaction: a crash leaves both or neither.
            opened.Enroll(faces, metadata.Count > 0 && faces.Count > 0 ? new Dictionary<string, IReadOnlyDictionary<string, string?>> { [parse.GetValue(subject)!] = metadata } : null);
            var writer = parse.InvocationConfiguration.Output;
            var subjects = faces.Select(f => FaceGallery.CanonicalSubject(f.Subject)).Distinct().ToList();
            if (parse.GetValue(json))
                JsonOutput.Write(writer, new { Enrolled = faces.Count, Subjects = subjects, Refused = refused.Select(r => new { r.Image, r.Reason }), Skipped = skipped.Select(r => new { r.Image, r.Reason }), Faces = opened.Count });
            else writer.WriteLine($"enrolled {faces.Count} face(s) of {subjects.Count} subject(s); {refused.Count} refused; {(skipped.Count > 0 ? $"{skipped.Count} already enrolled; " : "")}the gallery holds {opened.Count} faces");
            return refused.Count > 0 ? SomeRefusedExitCode : 0;
        });
        return command;
    }

    /// <summary>
    /// (image, subject) pairs from --subject + IMAGES or --folder. A --folder's identity folders without a supported
    /// image are refused (named, with the formats taken), not fatal: the others are enrolled.
    /// </summary>
    private static List<(string Image, string Subject)> Items(string? subject, string? folder, string[] images, List<(string Image, string Reason)> refused)
    {
        if ((subject is null) == (folder is null)) throw new UserErrorException("Give either --subject ID with IMAGES, or --folder DIR (a folder of identity folders).");
        if (subject is not null)
        {
            if (string.IsNullOrWhiteSpace(subject)) throw new UserErrorException("--subject: the subject id is empty.");
            if (images.Length == 0) throw new UserErrorException("--subject: give the subject's IMAGES.");
            return images.Select(i => (i, subject)).ToList();
        }
        if (images.Length > 0) throw new UserErrorException("--folder: IMAGES are not taken with --folder (the folder's identity folders are the images).");
        if (!Directory.Exists(folder)) throw new UserErrorException($"--folder: '{folder}' is not a folder.");
        ImageFolderDataset set;
        try
        {
            set = ImageFolderDataset.Open(folder!, skipEmpty: true);
        }
        catch (InvalidDataException)
        {
            throw new UserErrorException($"--folder: '{folder}' holds no identity folders with images (supported: {string.Join(" ", ImageFolderDataset.ImageExtensions)}).");
        }
        using var _ = set;
        // Photos in formats FaceForge does not decode, or outside the identity folders, are named, not silently passed over.
        refused.AddRange(set.FindUnread());
        foreach (string skipped in set.SkippedFolders)
            refused.Add((Path.Combine(set.Root, skipped), skipped.Contains('/')
                ? "the file name is not valid UTF-8, so it cannot be opened; rename it"
                : $"no supported images in this identity folder (supported: {string.Join(" ", ImageFolderDataset.ImageExtensions)})"));
        return Enumerable.Range(0, set.Count).Select(i => (Path.Combine(set.Root, set.RelativePath(i)), set.IdentityNames[set.GetLabel(i)])).ToList();
    }

    /// <summary>A subject's face and the same photo again (or a copy of it): their embeddings agree to this cosine; two photos of a person do not.</summary>
    internal const double DuplicateCosine = 0.9999;

    /// <summary>
    /// Why <paramref name="vector"/> is not stored for <paramref name="subject"/>: the subject already holds the same
    /// face, in the gallery or earlier in this enrolment (<paramref name="pending"/>, by subject: a folder enrolled
    /// again after photos were added, a photo given twice); null when it is new.
    /// </summary>
    private static string? Duplicate(FaceGallery gallery, Dictionary<string, List<GalleryFace>> pending, string subject, float[] vector)
    {
        string id = FaceGallery.CanonicalSubject(subject);
        if (gallery.SameFace(id, vector, DuplicateCosine) is { } same)
            return $"subject '{id}' already holds this face (face {same.FaceId}, cosine {Math.Min(1, same.Score):0.0000})";
        foreach (var earlier in pending.GetValueOrDefault(id) ?? [])
            if (Embedding.Similarity.Cosine(earlier.Vector, vector) >= DuplicateCosine)
                return $"the same face as '{earlier.Source}' in this enrolment";
        return null;
    }

    private static Dictionary<string, string?> Metadata(string[] pairs, string? subject)
    {
        if (pairs.Length > 0 && subject is null) throw new UserErrorException("--meta: metadata is set on one subject; give it with --subject.");
        var metadata = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new UserErrorException($"--meta: '{pair}' is not KEY=VALUE.");
            metadata[pair[..eq]] = pair[(eq + 1)..];
        }
        return metadata;
    }
}
