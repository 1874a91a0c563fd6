using FaceForge.Detection;
using FaceForge.Embedding;
using FaceForge.Pipeline;
using Microsoft.AspNetCore.Http;

namespace FaceForge.Server;

/// <summary>The handlers of detect, verify and identify, and the conversions of faces to their JSON.</summary>
internal static class FaceEndpoints
{
    public const int MaxTopK = 100;

    public static async Task<IResult> Detect(HttpRequest request, FaceAnalysisQueue queue, FaceServerOptions options, CancellationToken cancel)
    {
        var (image, _) = (await ImageUpload.ReadAsync(request, options, 1, cancel))[0];
        var faces = await queue.DetectAsync(image, cancel);
        return Results.Json(new DetectResponse(image.Width, image.Height, faces.Select(f => new DetectedFaceJson(Box(f), f.Score, Landmarks(f))).ToList()));
    }

    public static async Task<IResult> Verify(HttpRequest request, FaceAnalysisQueue queue, FaceServerOptions options, CancellationToken cancel)
    {
        double? threshold = QueryDouble(request, "threshold", -1, 1) ?? queue.ModelInfo.Threshold;
        var images = await ImageUpload.ReadAsync(request, options, 2, cancel);
        var analysed = await Task.WhenAll(images.Select(i => queue.AnalyseAsync(i.Image, cancel)));
        var chosen = new AnalysedFace[2];
        for (int i = 0; i < 2; i++)
            chosen[i] = analysed[i].MaxBy(f => f.Face.Box.Area)
                ?? throw new ApiProblemException(422, "No face found", $"no face was found in {images[i].Name}.");
        double score = Similarity.Cosine(chosen[0].Embedding, chosen[1].Embedding);
        return Results.Json(new VerifyResponse(Math.Round(score, 6), threshold, threshold is double t ? score > t : null,
            chosen.Select(f => new VerifiedFaceJson(Box(f.Face), f.Face.Score, Quality(f))).ToList()));
    }

    public static async Task<IResult> Identify(string gallery, HttpRequest request, FaceAnalysisQueue queue, ServedGalleries galleries, FaceServerOptions options, CancellationToken cancel)
    {
        var served = galleries.Get(gallery);
        int topK = QueryInt(request, "top_k", 5, 1, MaxTopK);
        var (image, _) = (await ImageUpload.ReadAsync(request, options, 1, cancel))[0];
        var faces = await queue.AnalyseAsync(image, cancel);
        var results = new List<IdentifiedFaceJson>(faces.Count);
        string index = served.IndexKind;
        foreach (var face in faces)
        {
            var answer = served.Identify(face.Embedding, topK);
            index = answer.Index;
            results.Add(new IdentifiedFaceJson(Box(face.Face), face.Face.Score, Landmarks(face.Face), Quality(face), answer.Known,
                answer.Known == true ? answer.Best!.Subject : null,
                answer.Matches.Select(m => new MatchJson(m.Subject, Math.Round(m.Score, 6), m.FaceId)).ToList()));
        }
        return Results.Json(new IdentifyResponse(image.Width, image.Height, served.Threshold, index, results));
    }

    public static IResult Health(FaceAnalysisQueue queue, ServedGalleries galleries) =>
        Results.Json(new HealthResponse("ok", queue.ModelInfo.Architecture,
            galleries.All.ToDictionary(g => g.Name, g => { var s = g.Gallery.Stats(); return new GalleryHealthJson(s.Faces, s.Subjects, s.Index, s.Threshold); }),
            queue.Pending));

    public static IResult Metrics(ServiceMetrics metrics, FaceAnalysisQueue queue, ServedGalleries galleries) =>
        Results.Text(metrics.Render(queue.Pending, galleries.All.Select(g => (g.Name, g.Gallery.Count))), "text/plain; version=0.0.4", System.Text.Encoding.UTF8);

    public static BoxJson Box(DetectedFace face) => new(Round(face.Box.Left), Round(face.Box.Top), Round(face.Box.Right), Round(face.Box.Bottom));

    public static QualityJson Quality(AnalysedFace face) => new(Round(face.InterOcularPixels), MathF.Round(face.Yaw, 3), face.Quality is double q ? Math.Round(q, 4) : null);

    public static int QueryInt(HttpRequest request, string name, int fallback, int min, int max)
    {
        if (!request.Query.TryGetValue(name, out var values) || values.Count == 0) return fallback;
        return int.TryParse(values[0], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value : throw new ApiProblemException(400, "Invalid query parameter", $"{name} must be a whole number from {min} to {max} (got '{ApiProblemException.Quote(values[0], 40)}').");
    }

    public static double? QueryDouble(HttpRequest request, string name, double min, double max)
    {
        if (!request.Query.TryGetValue(name, out var values) || values.Count == 0) return null;
        return double.TryParse(values[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value) && value >= min && value <= max
            ? value : throw new ApiProblemException(400, "Invalid query parameter", $"{name} must be a number from {min} to {max} (got '{ApiProblemException.Quote(values[0], 40)}').");
    }

    public static bool QueryBool(HttpRequest request, string name)
    {
        if (!request.Query.TryGetValue(name, out var values) || values.Count == 0) return false;
        return values[0] switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            var other => throw new ApiProblemException(400, "Invalid query parameter", $"{name} must be true or false (got '{ApiProblemException.Quote(other, 40)}')."),
        };
    }

    private static float[][]? Landmarks(DetectedFace face) =>
        face.Landmarks is { } m ? new[] { m.LeftEye, m.RightEye, m.Nose, m.LeftMouth, m.RightMouth }.Select(p => new[] { Round(p.X), Round(p.Y) }).ToArray() : null;

    private static float Round(float value) => MathF.Round(value, 1);
}
