using FaceForge.Gallery;

namespace FaceForge.Server;

/// <summary>The galleries a service serves, by name, each checked to hold embeddings of the served model.</summary>
/// <remarks>Thread-safe (the dictionary is fixed after construction; <see cref="FaceGallery"/> is thread-safe). Dispose to close them.</remarks>
internal sealed class ServedGalleries : IDisposable
{
    private readonly Dictionary<string, FaceGallery> _galleries = new(StringComparer.Ordinal);

    /// <summary>Opens every gallery of <paramref name="locations"/>; fails naming the first that cannot serve the model.</summary>
    public ServedGalleries(IReadOnlyDictionary<string, string> locations, string fingerprint, Models.ModelInfo model, string modelPath)
    {
        try
        {
            foreach (var (name, location) in locations)
            {
                var gallery = FaceGallery.Open(location);
                _galleries[name] = gallery;
                gallery.RequireModel(fingerprint, model.EmbeddingSize, $"{model.Architecture} {modelPath}");
                gallery.PrepareIndex(); // the graph now, not during the first request
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IEnumerable<(string Name, FaceGallery Gallery)> All => _galleries.Select(g => (g.Key, g.Value));

    /// <summary>The gallery named <paramref name="name"/>: 400 for a name no gallery may have, 404 for an unknown one.</summary>
    public FaceGallery Get(string name)
    {
        if (NameRules.GalleryProblem(name) is { } problem) throw new ApiProblemException(400, "Invalid gallery name", problem + ".");
        return _galleries.TryGetValue(name, out var gallery) ? gallery
            : throw new ApiProblemException(404, "No such gallery", $"no gallery '{name}' is served here (served: {string.Join(", ", _galleries.Keys.Order(StringComparer.Ordinal))}).");
    }

    public void Dispose()
    {
        foreach (var gallery in _galleries.Values) gallery.Dispose();
        _galleries.Clear();
    }
}
