namespace FaceForge.Gallery;

/// <summary>The gallery's store cannot be reached (a database server down or refusing the login); nothing was written.</summary>
/// <param name="location">The store, without its password.</param>
/// <param name="reason">What the client said.</param>
/// <param name="inner">The client's exception.</param>
public sealed class GalleryUnavailableException(string location, string reason, Exception? inner = null)
    : IOException($"Gallery store {location} is unreachable ({reason}); nothing was written.", inner)
{
    /// <summary>The store, without its password.</summary>
    public string Location { get; } = location;
}
