namespace FaceForge.Gallery;

/// <summary>
/// A gallery store that lives only in this process: nothing persists. For benchmarks, tests and applications that
/// build a throw-away gallery; it shows what the store contract asks of a persistent one.
/// </summary>
/// <remarks>Not thread-safe; <see cref="FaceGallery"/> serialises calls.</remarks>
public sealed class MemoryGalleryStore(GalleryHeader header) : IGalleryStore
{
    private readonly SortedDictionary<long, StoredFace> _faces = [];
    private readonly Dictionary<string, Dictionary<string, string>> _metadata = new(StringComparer.Ordinal);
    private long _next = 1;

    /// <inheritdoc/>
    public string Location => "memory";

    /// <summary>Where benchmarks keep the HNSW graph of a synthetic gallery between runs (its identity names the data); null keeps none.</summary>
    internal HnswGraphFile? GraphFile { get; init; }

    HnswGraphFile? IGalleryStore.GraphFile => GraphFile;

    /// <inheritdoc/>
    public GalleryHeader Header { get; private set; } = header;

    /// <inheritdoc/>
    public IEnumerable<StoredFace> ReadFaces() => _faces.Values.ToList();

    /// <inheritdoc/>
    public IReadOnlyList<long> AddFaces(IReadOnlyList<GalleryFace> faces, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>>? metadata = null)
    {
        // Checked first so that a failure stores nothing, as a transaction would.
        foreach (var name in metadata?.Keys ?? [])
            if (!_metadata.ContainsKey(name) && !faces.Any(f => f.Subject == name)) throw new KeyNotFoundException($"No subject '{name}'.");
        var ids = new List<long>(faces.Count);
        foreach (var face in faces)
        {
            // Round-trip through the stored precision, as a persistent store would.
            var vector = VectorCodec.Decode(VectorCodec.Encode(face.Vector, Header.Options.Precision), face.Vector.Length, Header.Options.Precision)!;
            _metadata.TryAdd(face.Subject, []);
            _faces[_next] = new StoredFace(_next, face.Subject, vector, face.Quality, face.Source);
            ids.Add(_next++);
        }
        if (metadata is not null) foreach (var (name, values) in metadata) SetMetadata(name, values);
        return ids;
    }

    /// <inheritdoc/>
    public bool AddSubject(string subject, IReadOnlyDictionary<string, string?>? metadata = null)
    {
        if (!_metadata.TryAdd(subject, [])) return false;
        if (metadata is not null) SetMetadata(subject, metadata);
        return true;
    }

    /// <inheritdoc/>
    public IReadOnlyList<long>? RemoveSubject(string subject)
    {
        if (!_metadata.ContainsKey(subject)) return null;
        var ids = _faces.Values.Where(f => f.Subject == subject).Select(f => f.Id).ToList();
        foreach (long id in ids) _faces.Remove(id);
        _metadata.Remove(subject);
        return ids;
    }

    /// <inheritdoc/>
    public void SetMetadata(string subject, IReadOnlyDictionary<string, string?> metadata)
    {
        var current = _metadata.GetValueOrDefault(subject) ?? throw new KeyNotFoundException($"No subject '{subject}'.");
        foreach (var (key, value) in metadata)
        {
            if (value is null) current.Remove(key);
            else current[key] = value;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<GallerySubject> Subjects(string? subject = null) =>
        _metadata.Where(s => subject is null || s.Key == subject).OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new GallerySubject(s.Key, _faces.Values.Count(f => f.Subject == s.Key), new Dictionary<string, string>(s.Value))).ToList();

    /// <inheritdoc/>
    public void SetThreshold(double? threshold, double? fpir) => Header = Header with { Threshold = threshold, ThresholdFpir = fpir };

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
