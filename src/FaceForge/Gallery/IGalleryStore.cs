namespace FaceForge.Gallery;

/// <summary>
/// Where a gallery's faces persist. Every write is one transaction: it commits whole or not at all, so a process
/// killed mid-write leaves the store as it was before that write. <see cref="FaceGallery"/> keeps its in-memory
/// index in step with the store; a store several processes write adds a change sequence to follow (<see cref="ISharedGalleryStore"/>).
/// </summary>
/// <remarks>Implementations are not thread-safe: <see cref="FaceGallery"/> serialises calls.</remarks>
public interface IGalleryStore : IDisposable
{
    /// <summary>Where the store lives, for messages (a file path, a server address).</summary>
    string Location { get; }

    /// <summary>The model, options and threshold recorded at creation.</summary>
    GalleryHeader Header { get; }

    /// <summary>Every face, in id order.</summary>
    /// <exception cref="InvalidDataException">A stored record is damaged (named by its face id).</exception>
    IEnumerable<StoredFace> ReadFaces();

    /// <summary>
    /// Adds <paramref name="faces"/> in one transaction, creating subjects as needed, and merges
    /// <paramref name="metadata"/> (by subject id, as <see cref="SetMetadata"/>) in the same transaction; their ids, in order.
    /// </summary>
    /// <exception cref="LockedException">Another writer holds the store past the lock timeout.</exception>
    /// <exception cref="KeyNotFoundException">Metadata for a subject that neither exists nor is in <paramref name="faces"/> (nothing is stored).</exception>
    IReadOnlyList<long> AddFaces(IReadOnlyList<GalleryFace> faces, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>>? metadata = null);

    /// <summary>
    /// Adds a subject without faces, with <paramref name="metadata"/>, in one transaction; false when the id is
    /// enrolled already (nothing changes).
    /// </summary>
    /// <exception cref="LockedException">Another writer holds the store past the lock timeout.</exception>
    bool AddSubject(string subject, IReadOnlyDictionary<string, string?>? metadata = null);

    /// <summary>Removes a subject and its faces in one transaction; the ids of the faces removed, or null when no such subject.</summary>
    IReadOnlyList<long>? RemoveSubject(string subject);

    /// <summary>Merges <paramref name="metadata"/> into a subject's (a null value removes the key).</summary>
    /// <exception cref="KeyNotFoundException">No such subject.</exception>
    void SetMetadata(string subject, IReadOnlyDictionary<string, string?> metadata);

    /// <summary>Every subject with its face count and metadata, by id; only the one named <paramref name="subject"/> when given (none when unknown).</summary>
    IReadOnlyList<GallerySubject> Subjects(string? subject = null);

    /// <summary>Records the open-set threshold (and the FPIR it was calibrated for, if any).</summary>
    void SetThreshold(double? threshold, double? fpir);

    /// <summary>Where the store's HNSW graph is saved between processes, or null when it keeps none (each process then builds it at its first search).</summary>
    internal HnswGraphFile? GraphFile => null;
}
