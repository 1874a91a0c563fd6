using Microsoft.AspNetCore.Http;

namespace FaceForge.Server;

/// <summary>The browser page (index.html, app.js, app.css), embedded in this assembly and served as is.</summary>
internal static class WebPage
{
    public static readonly (string Route, string Resource, string ContentType)[] Files =
    [
        ("/", "wwwroot/index.html", "text/html; charset=utf-8"),
        ("/app.js", "wwwroot/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "wwwroot/app.css", "text/css; charset=utf-8"),
    ];

    public static IResult Serve(string resource, string contentType)
    {
        var stream = typeof(WebPage).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The page resource '{resource}' is missing from {typeof(WebPage).Assembly.GetName().Name}.");
        return Results.Stream(stream, contentType);
    }
}
