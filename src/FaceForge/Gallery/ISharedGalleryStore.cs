namespace FaceForge.Gallery;

/// <summary>
/// A store that several processes write (an SQLite file, a database server). Every write also appends to a change log numbered by
/// a sequence that grows in commit order, so each process keeps its in-memory index in step by applying the changes
/// after the last sequence number it saw.
/// </summary>
public interface ISharedGalleryStore : IGalleryStore
{
    /// <summary>The sequence number the last <see cref="IGalleryStore.ReadFaces"/> was consistent with.</summary>
    long LoadedSequence { get; }

    /// <summary>The changes committed after <paramref name="sequence"/>, and the current header (the threshold may have changed).</summary>
    GalleryChanges ChangesSince(long sequence);
}

/// <summary>Changes of a shared store since a sequence number.</summary>
/// <param name="Added">Faces added (in id order); a face already known to the reader is skipped by it.</param>
/// <param name="Removed">Ids of faces removed.</param>
/// <param name="Sequence">The last sequence number these changes include.</param>
/// <param name="Header">The store's header now.</param>
/// <param name="Reset">
/// The log cannot say what changed since the sequence (it was dropped, made again, or numbers lower than the reader's):
/// <paramref name="Added"/> then holds every face in the store, and a reader drops from memory every face not in it.
/// </param>
public sealed record GalleryChanges(IReadOnlyList<StoredFace> Added, IReadOnlyList<long> Removed, long Sequence, GalleryHeader Header, bool Reset = false);
