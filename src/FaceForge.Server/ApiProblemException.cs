namespace FaceForge.Server;

/// <summary>A request the service refuses: answered as problem+json with this status, title and detail.</summary>
/// <param name="status">The HTTP status code.</param>
/// <param name="title">A short, fixed summary of the kind of problem.</param>
/// <param name="detail">What exactly is wrong with this request (names the field, value or limit).</param>
/// <param name="retryAfterSeconds">A Retry-After header to send (503, 429), or null.</param>
internal sealed class ApiProblemException(int status, string title, string detail, int? retryAfterSeconds = null) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    /// <summary>Client text quoted in a detail: at most <paramref name="length"/> characters, control characters as '?'.</summary>
    public static string Quote(string? text, int length) => text is null ? "" : new string(text.Take(length).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
