using Microsoft.AspNetCore.Http;

namespace FaceForge.Server;

/// <summary>
/// Checks the X-Api-Key header of requests to endpoints that carry <see cref="RequiredScope"/>: 401 without a valid
/// key, 403 when its scope is too low. Records the key id for the per-key rate limiter. Without a keys file every
/// request passes (as the key "open").
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, ApiKeyFile? keys)
{
    public const string Header = "X-Api-Key";
    public const string KeyItem = "faceforge.key";

    public async Task InvokeAsync(HttpContext context)
    {
        var required = context.GetEndpoint()?.Metadata.GetMetadata<RequiredScope>();
        if (required is null)
        {
            await next(context);
            return;
        }
        if (keys is null)
        {
            context.Items[KeyItem] = "open";
            await next(context);
            return;
        }
        string? presented = context.Request.Headers[Header].FirstOrDefault();
        if (keys.Check(presented) is not { } key)
        {
            context.Response.Headers.WWWAuthenticate = "ApiKey header=\"X-Api-Key\"";
            await ProblemResponse.WriteAsync(context, 401, "Unauthorized",
                string.IsNullOrEmpty(presented) ? $"send an API key in the {Header} header (create one with 'faceforge keys create')." : $"the key in the {Header} header is not valid here.");
            return;
        }
        if (key.Scope < required.Scope)
        {
            await ProblemResponse.WriteAsync(context, 403, "Forbidden",
                $"key {key.Id} has scope '{key.Scope.ToString().ToLowerInvariant()}'; {context.Request.Method} {context.Request.Path} needs '{required.Scope.ToString().ToLowerInvariant()}'.");
            return;
        }
        context.Items[KeyItem] = key.Id;
        await next(context);
    }
}
