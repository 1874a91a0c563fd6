namespace FaceForge.Gallery;

/// <summary>How a gallery stores its vectors, in its file and in memory.</summary>
public enum GalleryPrecision
{
    /// <summary>32-bit floats: exact copies of the embeddings.</summary>
    Float32,
    /// <summary>16-bit floats: half the memory and bytes read per search; cosines change by about 1e-3 at most.</summary>
    Float16,
}
