namespace FaceForge.Data;

/// <summary>
/// A labelled set of encoded face images: identities 0 … <see cref="IdentityCount"/> - 1, images 0 … <see cref="Count"/> - 1.
/// </summary>
/// <remarks>Implementations allow <see cref="ReadEncoded"/> and <see cref="GetLabel"/> from several threads at once.</remarks>
public interface IFaceDataset : IDisposable
{
    /// <summary>Number of images.</summary>
    int Count { get; }

    /// <summary>Number of identities.</summary>
    int IdentityCount { get; }

    /// <summary>Short name of the storage format ("folder", "recordio").</summary>
    string Format { get; }

    /// <summary>Identity of image <paramref name="index"/>.</summary>
    int GetLabel(int index);

    /// <summary>The encoded bytes of image <paramref name="index"/>.</summary>
    byte[] ReadEncoded(int index);

    /// <summary>Where image <paramref name="index"/> lives (a path or a record key), for messages.</summary>
    string Describe(int index);
}
