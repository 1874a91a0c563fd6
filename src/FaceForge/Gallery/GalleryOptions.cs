namespace FaceForge.Gallery;

/// <summary>How a gallery is created: fixed for its life (recorded in the file).</summary>
public sealed record GalleryOptions
{
    /// <summary>The precision of stored vectors. <value>Float32 by default.</value></summary>
    public GalleryPrecision Precision { get; init; } = GalleryPrecision.Float32;

    /// <summary>
    /// From this many faces on, identification searches an HNSW index and re-ranks its candidates exactly; below it,
    /// every face is scored exactly. <value>50,000 by default: an exact scan of 50k x 512 floats takes a few ms.</value>
    /// </summary>
    public int HnswAbove { get; init; } = 50_000;

    /// <summary>Why these options cannot make a gallery, or null.</summary>
    public string? Problem() =>
        !Enum.IsDefined(Precision) ? $"precision {(int)Precision} is unknown"
        : HnswAbove < 1 ? $"the HNSW size threshold must be at least 1 (got {HnswAbove})"
        : null;
}

/// <summary>How a gallery is opened: settings of this process, not recorded in the file.</summary>
public sealed record GalleryOpenOptions
{
    /// <summary>How long a write waits for another writer's transaction before failing with <see cref="LockedException"/>. <value>5 s by default.</value></summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>HNSW graph degree (USearch connectivity). <value>16 by default.</value></summary>
    public int HnswConnectivity { get; init; } = 16;

    /// <summary>What the HNSW graph keeps of each face. <value><see cref="HnswVectors.Int8"/> by default.</value></summary>
    public HnswVectors HnswVectors { get; init; } = HnswVectors.Int8;

    /// <summary>HNSW beam width while building. <value>64 by default (building costs about linearly in it; recall after exact re-ranking stays above 0.99 on face-like probes).</value></summary>
    public int HnswExpansionAdd { get; init; } = 64;

    /// <summary>HNSW beam width while searching. <value>64 by default.</value></summary>
    public int HnswExpansionSearch { get; init; } = 64;

    /// <summary>How many HNSW candidates are re-ranked exactly per query (at least 4 x top-k). <value>64 by default.</value></summary>
    public int HnswCandidates { get; init; } = 64;

    /// <summary>How often identification first applies the changes other processes made to the store (SQLite file or PostgreSQL). <value>1 s by default; zero checks before every probe.</value></summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// For a gallery file (SQLite): keep its HNSW graph beside it (GALLERY.hnsw and GALLERY.hnsw.json), so that the
    /// next open loads it and adds only the faces enrolled since instead of rebuilding it. <value>True by default.</value>
    /// </summary>
    public bool SaveHnswGraph { get; init; } = true;

    /// <summary>Build the HNSW index whatever the gallery's size (tests and benchmarks); null follows <see cref="GalleryOptions.HnswAbove"/>.</summary>
    public bool? ForceHnsw { get; init; }

    /// <summary>Why these settings cannot open a gallery, or null (checked at open, not at the first search).</summary>
    public string? Problem() =>
        LockTimeout < TimeSpan.Zero ? $"the lock timeout {LockTimeout} is negative"
        : RefreshInterval < TimeSpan.Zero ? $"the refresh interval {RefreshInterval} is negative"
        : HnswConnectivity is < 2 or > 2048 ? $"the HNSW connectivity must be 2-2048 (got {HnswConnectivity})"
        : !Enum.IsDefined(HnswVectors) ? $"HNSW vectors {(int)HnswVectors} is unknown"
        : HnswExpansionAdd < 1 ? $"the HNSW build beam must be at least 1 (got {HnswExpansionAdd})"
        : HnswExpansionSearch < 1 ? $"the HNSW search beam must be at least 1 (got {HnswExpansionSearch})"
        : HnswCandidates < 1 ? $"the HNSW candidates must be at least 1 (got {HnswCandidates})"
        : null;
}
