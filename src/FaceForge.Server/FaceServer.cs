using System.Text.Json;
using System.Threading.RateLimiting;
using FaceForge.Detection;
using FaceForge.Models;
using FaceForge.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scalar.AspNetCore;

namespace FaceForge.Server;

/// <summary>
/// Builds the FaceForge web service: the REST API under /v1, /health, /metrics, the OpenAPI document
/// (/openapi/v1.json) with its interactive page (/scalar), and the browser page at /. Models run on ONNX Runtime
/// only (no libtorch is loaded).
/// </summary>
public static class FaceServer
{
    /// <summary>
    /// Opens the models, galleries and keys of <paramref name="options"/> and builds the application (not started).
    /// <paramref name="configure"/> may adjust the builder (URLs, a test server) before it is built.
    /// </summary>
    /// <exception cref="ArgumentException">The options cannot run a service, or a model is not ONNX (named).</exception>
    /// <exception cref="FileNotFoundException">A model, gallery or keys file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is not what it should be, or a gallery holds another model's embeddings.</exception>
    public static WebApplication Build(FaceServerOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        if (options.Problem() is { } problem) throw new ArgumentException($"Service options: {problem}.", nameof(options));
        RequireOnnx(options.ModelPath, "model");
        RequireOnnx(options.DetectorPath, "detector");
        var keys = options.KeysPath is { } keysPath ? ApiKeyFile.Load(keysPath) : null;
        string fingerprint = ModelFingerprint.Of(options.ModelPath);
        var models = new FaceModels().OpenPipeline(options.DetectorPath, options.ModelPath, new DetectorOptions());
        ServedGalleries galleries;
        try
        {
            galleries = new ServedGalleries(options.Galleries, fingerprint, models.Embedder.Info, options.ModelPath);
        }
        catch
        {
            models.Dispose();
            throw;
        }
        var metrics = new ServiceMetrics();
        var queue = new FaceAnalysisQueue(models, options, metrics);

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // A failed start (port in use) is reported as one line by the caller; the host's own error log would add its stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        long bodyLimit = 2 * options.MaxImageBytes + 64 * 1024;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = bodyLimit);
        builder.Services.Configure<FormOptions>(f =>
        {
            f.MultipartBodyLengthLimit = bodyLimit;
            f.ValueCountLimit = 64;
            f.MultipartHeadersLengthLimit = 16 * 1024;
        });
        // Shutdown waits for requests in flight (enrolments included) at least as long as a request may take.
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.RequestTimeout + TimeSpan.FromSeconds(10));
        builder.Services.ConfigureHttpJsonOptions(j =>
        {
            j.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            j.SerializerOptions.DictionaryKeyPolicy = null;
        });
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "FaceForge";
            document.Info.Description = "Face detection, verification and open-set identification against galleries. Send the API key in the X-Api-Key header; images as the multipart field 'image'.";
            return Task.CompletedTask;
        }));
        builder.Services.AddSingleton(options);
        // Factories, not instances: the container then disposes them (queue first: it drains before the galleries close).
        builder.Services.AddSingleton(_ => galleries);
        builder.Services.AddSingleton(_ => queue);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddRateLimiter(r =>
        {
            r.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                // Per key for the API; per client address for the open endpoints (page, health, documents).
                string partition = context.Items[ApiKeyMiddleware.KeyItem] as string ?? "ip:" + context.Connection.RemoteIpAddress;
                return RateLimitPartition.GetFixedWindowLimiter(partition, _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = options.RateLimit,
                    Window = options.RateWindow,
                    QueueLimit = 0,
                });
            });
            r.OnRejected = async (rejected, _) =>
            {
                int seconds = (int)Math.Ceiling(rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after.TotalSeconds : options.RateWindow.TotalSeconds);
                string who = rejected.HttpContext.Items[ApiKeyMiddleware.KeyItem] as string is { } id ? $"key {id}" : "this client";
                await ProblemResponse.WriteAsync(rejected.HttpContext, 429, "Too many requests", $"{who} may send {options.RateLimit} requests per {options.RateWindow.TotalSeconds:0.###} s.", Math.Max(1, seconds));
            };
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        app.Services.GetRequiredService<ServedGalleries>();
        app.Services.GetRequiredService<FaceAnalysisQueue>();
        // Outermost, so it counts the status the client gets (a refusal's is written by the next one); the route
        // pattern is still on the context when the pipeline returns.
        app.UseMiddleware<RequestMetricsMiddleware>();
        app.UseMiddleware<ExceptionProblemMiddleware>();
        app.UseStatusCodePages(async status =>
        {
            var context = status.HttpContext;
            if (context.Response.ContentLength is > 0 || context.Response.ContentType is not null) return;
            int code = context.Response.StatusCode;
            string detail = code switch
            {
                404 => $"no endpoint at {context.Request.Path}; see /openapi/v1.json or /scalar for the API.",
                405 => $"{context.Request.Method} is not allowed on {context.Request.Path}.",
                415 => $"{context.Request.Method} {context.Request.Path} does not take content type '{context.Request.ContentType ?? "none"}' (images: multipart/form-data with the field 'image'; subjects: application/json).",
                _ => $"the request failed with status {code}.",
            };
            await ProblemResponse.WriteAsync(context, code, code switch { 404 => "Not found", 405 => "Method not allowed", 415 => "Unsupported media type", _ => "Error" }, detail);
        });
        app.UseRouting();
        app.Use(next => new ApiKeyMiddleware(next, keys).InvokeAsync);
        app.UseRateLimiter();
        Map(app);
        return app;
    }

    private static void Map(WebApplication app)
    {
        var read = new RequiredScope(ApiScope.Read);
        var write = new RequiredScope(ApiScope.Write);
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/detect", FaceEndpoints.Detect).WithMetadata(read).Accepts<IFormFile>("multipart/form-data").Produces<DetectResponse>().ProducesProblem(400).WithSummary("Detect faces (field 'image').");
        v1.MapPost("/verify", FaceEndpoints.Verify).WithMetadata(read).Accepts<IFormFileCollection>("multipart/form-data").Produces<VerifyResponse>().ProducesProblem(422).WithSummary("Compare the largest faces of two images (field 'image' twice).");
        var g = v1.MapGroup("/galleries/{gallery}");
        g.MapGet("/subjects", GalleryEndpoints.ListSubjects).WithMetadata(read).Produces<SubjectsResponse>().WithSummary("List subjects.");
        g.MapPost("/subjects", GalleryEndpoints.CreateSubject).WithMetadata(write).Accepts<CreateSubjectRequest>("application/json").Produces<SubjectJson>(201).ProducesProblem(409).WithSummary("Create a subject: {\"id\": \"...\"}.");
        g.MapGet("/subjects/{id}", GalleryEndpoints.GetSubject).WithMetadata(read).Produces<SubjectJson>().ProducesProblem(404).WithSummary("One subject.");
        g.MapDelete("/subjects/{id}", GalleryEndpoints.DeleteSubject).WithMetadata(write).Produces<RemovedSubjectJson>().ProducesProblem(404).WithSummary("Delete a subject and its faces.");
        g.MapPost("/subjects/{id}/faces", GalleryEndpoints.Enrol).WithMetadata(write).Accepts<IFormFileCollection>("multipart/form-data").Produces<EnrolResponse>(201).ProducesProblem(422)
            .WithSummary("Enrol faces (field 'image', repeatable; ?largest=true for group photos); quality-gated, all or nothing.");
        g.MapGet("/faces", GalleryEndpoints.ListFaces).WithMetadata(read).Produces<FacesPageJson>().WithSummary("Enrolled faces, paged (?offset=&limit=).");
        g.MapPost("/identify", FaceEndpoints.Identify).WithMetadata(read).Accepts<IFormFile>("multipart/form-data").Produces<IdentifyResponse>().WithSummary("Identify every face of an image (?top_k=); open-set with the gallery's threshold.");
        app.MapGet("/health", FaceEndpoints.Health).Produces<HealthResponse>().WithSummary("Liveness and gallery sizes.");
        app.MapGet("/metrics", FaceEndpoints.Metrics).WithMetadata(new RequiredScope(ApiScope.Admin)).WithSummary("Prometheus metrics (admin key).");
        foreach (var (route, resource, type) in WebPage.Files) app.MapGet(route, () => WebPage.Serve(resource, type)).ExcludeFromDescription();
        app.MapOpenApi();
        app.MapScalarApiReference();
    }

    private static void RequireOnnx(string path, string what)
    {
        if (path.EndsWith(".ffm", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--{what}: '{path}' is a FaceForge .ffm model, which needs libtorch; the service runs ONNX only. Export it first: faceforge export onnx --model {path} --out {Path.ChangeExtension(path, ".onnx")}");
        if (!File.Exists(path)) throw new FileNotFoundException($"--{what}: '{path}' does not exist.", path);
        if (!path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--{what}: '{path}' is not an ONNX file (.onnx); the service runs ONNX models only.");
    }
}
