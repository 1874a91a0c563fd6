namespace FaceForge.Gallery;

/// <summary>What the HNSW graph keeps of each face to walk by; candidates are re-ranked on the exact vectors either way.</summary>
public enum HnswVectors
{
    /// <summary>int8 copies, inner product: a quarter of float32's memory; the default.</summary>
    Int8,

    /// <summary>
    /// One sign bit per dimension, Hamming distance: 1/32 of float32's memory and several distances per cache line, so
    /// a search visits more of a large graph in the same time. Pays off with many dimensions (512) and a large gallery
    /// (1M x 512, connectivity 256: recall@1 0.996 at 30.6x the exact scan, where int8 at connectivity 32 reached 0.855
    /// at 35x; docs/benchmarks.md); with few dimensions the bits say less about the angle, so raise the connectivity.
    /// </summary>
    Binary,
}
