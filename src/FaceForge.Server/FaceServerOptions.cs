namespace FaceForge.Server;

/// <summary>What `faceforge serve` serves and the limits it enforces.</summary>
public sealed record FaceServerOptions
{
    /// <summary>Galleries by name (the name in /v1/galleries/{name}); each a SQLite path or PostgreSQL location.</summary>
    public required IReadOnlyDictionary<string, string> Galleries { get; init; }

    /// <summary>The recognition model, an ONNX file (an export of the galleries' model: same fingerprint).</summary>
    public required string ModelPath { get; init; }

    /// <summary>The face detector, an ONNX file with five landmarks (RetinaFace export, YuNet).</summary>
    public required string DetectorPath { get; init; }

    /// <summary>The API keys file (`faceforge keys create`), or null: then every request is allowed (development only).</summary>
    public string? KeysPath { get; init; }

    /// <summary>Largest accepted image file, in bytes. <value>10 MB by default.</value></summary>
    public long MaxImageBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary>Largest accepted image, in pixels, read from the header before decoding. <value>40 million by default.</value></summary>
    public long MaxImagePixels { get; init; } = 40_000_000;

    /// <summary>How long the embedding worker waits for more requests to join a batch. <value>5 ms by default.</value></summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Most images in one batch. <value>16 by default.</value></summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Images that may wait for the worker; beyond it requests get 503 with Retry-After. <value>64 by default.</value></summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>How long a request may wait for its images to be analysed before it gets 504. <value>30 s by default.</value></summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests per key per <see cref="RateWindow"/>; beyond it 429 with Retry-After. <value>100 by default.</value></summary>
    public int RateLimit { get; init; } = 100;

    /// <summary>The rate limit's fixed window. <value>1 s by default.</value></summary>
    public TimeSpan RateWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Enrolment quality gate: smallest distance between the eyes, in pixels. <value>20 by default.</value></summary>
    public float MinInterOcularPixels { get; init; } = 20;

    /// <summary>Enrolment quality gate: largest |yaw| (0 frontal, 1 profile). <value>0.8 by default.</value></summary>
    public float MaxYaw { get; init; } = 0.8f;

    /// <summary>Enrolment quality gate: smallest model quality (models that carry one: MagFace, PFE); null for none.</summary>
    public double? MinModelQuality { get; init; }

    /// <summary>Why these options cannot run a service, or null.</summary>
    public string? Problem() =>
        Galleries.Count == 0 ? "give at least one gallery"
        : Galleries.Keys.FirstOrDefault(n => NameRules.GalleryProblem(n) is not null) is { } bad ? $"gallery name: {NameRules.GalleryProblem(bad)}"
        : MaxImageBytes < 1 ? $"the image byte limit must be positive (got {MaxImageBytes})"
        : MaxImagePixels < 1 ? $"the image pixel limit must be positive (got {MaxImagePixels})"
        : MaxBatch < 1 ? $"the batch size must be at least 1 (got {MaxBatch})"
        : QueueCapacity < 1 ? $"the queue capacity must be at least 1 (got {QueueCapacity})"
        : BatchWindow < TimeSpan.Zero ? "the batching window must not be negative"
        : RequestTimeout <= TimeSpan.Zero ? "the request timeout must be positive"
        : RateLimit < 1 ? $"the rate limit must be at least 1 (got {RateLimit})"
        : RateWindow <= TimeSpan.Zero ? "the rate window must be positive"
        : null;
}
