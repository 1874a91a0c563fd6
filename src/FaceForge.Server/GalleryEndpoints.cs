using System.Text.Json;
using FaceForge.Gallery;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace FaceForge.Server;

/// <summary>The handlers of /v1/galleries/{g}/…: subjects, enrolment, the face listing.</summary>
internal static class GalleryEndpoints
{
    public const int MaxPage = 1000;

    public static IResult ListSubjects(string gallery, ServedGalleries galleries) =>
        Results.Json(new SubjectsResponse(galleries.Get(gallery).Subjects().Select(Json).ToList()));

    public static IResult GetSubject(string gallery, string id, ServedGalleries galleries)
    {
        var served = galleries.Get(gallery);
        Require(id);
        return Results.Json(Json(Find(served, gallery, id)));
    }

    public static async Task<IResult> CreateSubject(string gallery, HttpRequest request, ServedGalleries galleries, IOptions<JsonOptions> json, CancellationToken cancel)
    {
        var served = galleries.Get(gallery);
        if (request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            throw new ApiProblemException(415, "Unsupported media type", $"send the subject as application/json, e.g. {{\"id\": \"ada\"}} (got content type '{request.ContentType ?? "none"}').");
        CreateSubjectRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<CreateSubjectRequest>(request.Body, json.Value.SerializerOptions, cancel);
        }
        catch (JsonException e)
        {
            throw new ApiProblemException(400, "Malformed JSON", $"the body is not a subject object like {{\"id\": \"ada\", \"metadata\": {{\"name\": \"Ada Lovelace\"}}}}: {e.Message}");
        }
        string id = body?.Id ?? throw new ApiProblemException(400, "Missing subject id", "the body has no \"id\" (e.g. {\"id\": \"ada\"}).");
        Require(id);
        // The subject and its metadata in one transaction: a crash between them would leave a subject without its
        // metadata, and a client retrying would get 409.
        // A null value removes a key (as in PATCH): a new subject stores no key for it, and the reply says so.
        var metadata = (body.Metadata ?? []).Where(m => m.Value is not null).ToDictionary(m => m.Key, m => m.Value);
        if (!served.AddSubject(id, metadata.ToDictionary(m => m.Key, m => (string?)m.Value)))
            throw new ApiProblemException(409, "Subject exists", $"subject '{id}' exists in gallery '{gallery}' already; add faces with POST /v1/galleries/{gallery}/subjects/{id}/faces.");
        return Results.Json(new SubjectJson(FaceGallery.CanonicalSubject(id), 0, metadata), statusCode: 201);
    }

    public static IResult DeleteSubject(string gallery, string id, ServedGalleries galleries)
    {
        var served = galleries.Get(gallery);
        Require(id);
        int removed = served.Remove(id) ?? throw NoSubject(gallery, id);
        return Results.Json(new RemovedSubjectJson(id, removed));
    }

    public static async Task<IResult> Enrol(string gallery, string id, HttpRequest request, FaceAnalysisQueue queue, ServedGalleries galleries, FaceServerOptions options, CancellationToken cancel)
    {
        var served = galleries.Get(gallery);
        Require(id);
        bool largest = FaceEndpoints.QueryBool(request, "largest");
        var images = await ImageUpload.ReadAsync(request, options, null, cancel);
        var analysed = await Task.WhenAll(images.Select(i => queue.AnalyseAsync(i.Image, cancel)));
        var faces = new List<GalleryFace>();
        var chosen = new List<Pipeline.AnalysedFace>();
        var refused = new List<string>();
        for (int i = 0; i < images.Count; i++)
        {
            var found = analysed[i];
            string name = images[i].Name;
            if (found.Count == 0) { refused.Add($"{name}: no face found"); continue; }
            if (found.Count > 1 && !largest) { refused.Add($"{name}: {found.Count} faces found (pass largest=true to enrol the largest)"); continue; }
            var face = found.MaxBy(f => f.Face.Box.Area)!;
            if (Gate(face, options) is { } why) { refused.Add($"{name}: {why}"); continue; }
            chosen.Add(face);
            faces.Add(new GalleryFace(id, face.Embedding, face.Quality, $"api:{name}"));
        }
        // All or nothing, as the CLI's --strict: a caller never has to find out which of its images were kept.
        if (refused.Count > 0)
            throw new ApiProblemException(422, "Face refused", $"nothing was enrolled: {string.Join("; ", refused)}.");
        // Not cancellable from here on: once embedded, an enrolment is written even if the client or the host goes away.
        var ids = served.Enroll(faces);
        int subjectFaces = served.SubjectFaceCount(id);
        return Results.Json(new EnrolResponse(id, ids, chosen.Select(f => FaceEndpoints.Box(f.Face)).ToList(), chosen.Select(FaceEndpoints.Quality).ToList(), subjectFaces), statusCode: 201);
    }

    public static IResult ListFaces(string gallery, HttpRequest request, ServedGalleries galleries)
    {
        var served = galleries.Get(gallery);
        int offset = FaceEndpoints.QueryInt(request, "offset", 0, 0, int.MaxValue);
        int limit = FaceEndpoints.QueryInt(request, "limit", 100, 1, MaxPage);
        var (page, total) = served.FacePage(offset, limit);
        return Results.Json(new FacesPageJson(total, offset, limit, page.Select(f => new FaceEntryJson(f.Id, f.Subject)).ToList()));
    }

    /// <summary>Why <paramref name="face"/> fails the enrolment gate, or null.</summary>
    private static string? Gate(Pipeline.AnalysedFace face, FaceServerOptions options) =>
        face.InterOcularPixels < options.MinInterOcularPixels ? $"the face is too small ({face.InterOcularPixels:0.#} px between the eyes; at least {options.MinInterOcularPixels} needed)"
        : MathF.Abs(face.Yaw) > options.MaxYaw ? $"the face is turned too far (yaw {face.Yaw:0.##}; at most {options.MaxYaw} allowed)"
        : options.MinModelQuality is double min && face.Quality is double q && q < min ? $"the model's quality {q:0.###} is below {min}"
        : null;

    private static void Require(string id)
    {
        if (NameRules.SubjectProblem(id) is { } problem) throw new ApiProblemException(400, "Invalid subject id", problem + ".");
    }

    private static GallerySubject Find(FaceGallery gallery, string name, string id) => gallery.Subject(id) ?? throw NoSubject(name, id);

    private static ApiProblemException NoSubject(string gallery, string id) => new(404, "No such subject", $"gallery '{gallery}' has no subject '{id}'.");

    private static SubjectJson Json(GallerySubject s) => new(s.Id, s.Faces, s.Metadata);
}
