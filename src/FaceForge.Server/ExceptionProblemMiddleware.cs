using FaceForge.Gallery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FaceForge.Server;

/// <summary>
/// Turns every failure into problem+json: refusals with their own status, body limits 413, a busy or unwritable store
/// 503, a full disk 507, and anything unexpected a bare 500 whose detail is a trace id (the exception goes to the log,
/// never to the client: nor do the paths of the storage failures).
/// </summary>
internal sealed class ExceptionProblemMiddleware(RequestDelegate next, ILogger<ExceptionProblemMiddleware> log)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (ApiProblemException e)
        {
            await ProblemResponse.WriteAsync(context, e.Status, e.Title, e.Message, e.RetryAfterSeconds);
        }
        catch (BadHttpRequestException e)
        {
            string title = e.StatusCode == 413 ? "Payload too large" : "Bad request";
            await ProblemResponse.WriteAsync(context, e.StatusCode, title, e.StatusCode == 413 ? "the request body exceeds the service's upload limit." : e.Message);
        }
        catch (LockedException e)
        {
            await ProblemResponse.WriteAsync(context, 503, "Gallery busy", $"another writer holds the gallery: {e.Message}", retryAfterSeconds: 1);
        }
        catch (GalleryUnavailableException e)
        {
            log.LogError("gallery store unavailable: {Message}", e.Message);
            await ProblemResponse.WriteAsync(context, 503, "Gallery unavailable", "the gallery's store cannot be reached; try again later.", retryAfterSeconds: 5);
        }
        catch (IOException e) when (DiskProblem.IsFull(e))
        {
            log.LogError("gallery storage full: {Message}", e.Message);
            await ProblemResponse.WriteAsync(context, 507, "Insufficient storage", "the gallery's disk is full; nothing of this request was written.");
        }
        catch (Exception e) when (e is UnauthorizedAccessException || e is IOException io && DiskProblem.Is(io))
        {
            log.LogError("gallery storage not writable: {Message}", e.Message);
            await ProblemResponse.WriteAsync(context, 503, "Gallery not writable", "the gallery's storage cannot be written now (read-only or no permission); nothing of this request was written.", retryAfterSeconds: 30);
        }
        catch (InvalidDataException e)
        {
            // Uploads are checked where they are read (400); what reaches here is data the service keeps, such as a
            // gallery whose tables were changed by hand under it. The path stays in the log, not in the answer.
            log.LogError("stored data damaged on {Method} {Path} (trace {Trace}): {Message}", context.Request.Method, context.Request.Path, context.TraceIdentifier, e.Message);
            await ProblemResponse.WriteAsync(context, 500, "Stored data damaged", $"data the service keeps (its gallery, for instance) is damaged or was changed by hand; the log names it under trace id {context.TraceIdentifier}.");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody is left to answer.
        }
        catch (Exception e)
        {
            log.LogError(e, "internal error on {Method} {Path} (trace {Trace})", context.Request.Method, context.Request.Path, context.TraceIdentifier);
            await ProblemResponse.WriteAsync(context, 500, "Internal error", $"the service failed unexpectedly; the log has the details under trace id {context.TraceIdentifier}.");
        }
    }
}
