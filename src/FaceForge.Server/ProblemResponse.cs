using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace FaceForge.Server;

/// <summary>Writes RFC 9457 problem+json bodies: type, title, status, detail, instance; never a stack trace.</summary>
internal static class ProblemResponse
{
    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, int? retryAfterSeconds = null)
    {
        if (context.Response.HasStarted) return;
        // Clear drops every header; a 401's challenge must stay (RFC 9110 requires it).
        var challenge = context.Response.Headers.WWWAuthenticate;
        context.Response.Clear();
        if (status == 401 && challenge.Count > 0) context.Response.Headers.WWWAuthenticate = challenge;
        context.Response.StatusCode = status;
        if (retryAfterSeconds is int seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentType = "application/problem+json";
        var body = new Dictionary<string, object?>
        {
            ["type"] = $"https://httpstatuses.io/{status}",
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
            ["instance"] = context.Request.Path.Value,
            ["trace_id"] = context.TraceIdentifier,
        };
        await JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: CancellationToken.None);
    }
}
