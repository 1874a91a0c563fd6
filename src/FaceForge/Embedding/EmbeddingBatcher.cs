namespace FaceForge.Embedding;

/// <summary>
/// Embeds many items: worker threads decode and align (through the load function) while the calling thread runs
/// the embedder batch by batch, so the embedder is only ever used from one thread.
/// </summary>
public static class EmbeddingBatcher
{
    /// <summary>Embeddings of <paramref name="keys"/> with magnitudes, variances and quality, in order.</summary>
    public static FaceEmbedding[] EmbedAllFaces<TKey>(IFaceEmbedder embedder, IReadOnlyList<TKey> keys, Func<TKey, Imaging.RgbImage> load, FlipMode flip,
        int batchSize = 64, IProgress<int>? progress = null)
    {
        var result = new FaceEmbedding[keys.Count];
        int batches = (keys.Count + batchSize - 1) / batchSize;
        Task<Imaging.RgbImage[]> Prepare(int b) => Task.Run(() =>
        {
            int start = b * batchSize, count = Math.Min(batchSize, keys.Count - start);
            var crops = new Imaging.RgbImage[count];
            Parallel.For(0, count, i => crops[i] = load(keys[start + i]));
            return crops;
        });
        var next = batches > 0 ? Prepare(0) : null;
        for (int b = 0; b < batches; b++)
        {
            var crops = next!.GetAwaiter().GetResult();
            next = b + 1 < batches ? Prepare(b + 1) : null; // decode the next batch while this one runs
            var embeddings = embedder.EmbedFaces(crops, flip);
            embeddings.CopyTo(result, b * batchSize);
            progress?.Report(Math.Min(keys.Count, (b + 1) * batchSize));
        }
        return result;
    }
}
