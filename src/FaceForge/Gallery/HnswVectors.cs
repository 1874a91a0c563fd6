namespace FaceForge.Gallery;

/// <summary>What the HNSW graph keeps of each face to walk by; candidates are re-ranked on the exact vectors either way.</summary>
public enum HnswVectors
{
    /// <summary>int8 copies, inner product: a quarter of float32's memory; the default.</summary>
    Int8,

    /// <summary>
    /// One sign bit per dimension (the dimension count a multiple of 8), Hamming distance: 64 bytes a 512-d face instead
    /// of 512, one cache line per distance, so a search scores more of a large graph in the same time. The graph's links
    /// cost the same either way (2 x connectivity 4-byte links a face at the base level: about 2 KB at connectivity 256).
    /// Pays off with many dimensions and a large gallery (1M x 512, connectivity 256, 256 candidates: recall@1 0.986-0.996
    /// at 30.6x the exact scan over two builds, where int8 at connectivity 32 reached 0.855 at 35x; docs/benchmarks.md); with few
    /// dimensions the bits say less about the angle, so raise the connectivity.
    /// </summary>
    Binary,
}
