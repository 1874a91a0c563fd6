using FaceForge.Data;
using FaceForge.Randomness;

namespace FaceForge.Input;

/// <summary>
/// Batches of P identities x K images (metric-learning style): each epoch shuffles the identities that have at least
/// K images, takes them P at a time (an incomplete last group is dropped) and draws K distinct images of each. Every
/// batch follows from (seed, epoch, index) alone, so a resumed run draws what the uninterrupted one would have.
/// </summary>
/// <remarks>Immutable after construction; thread-safe.</remarks>
public sealed class IdentityBatchSampler
{
    private readonly int[][] _eligible;
    private readonly int _seed;

    /// <summary>Groups <paramref name="dataset"/>'s images by label; fails when fewer than P identities have K images.</summary>
    public IdentityBatchSampler(IFaceDataset dataset, int identitiesPerBatch, int imagesPerIdentity, int seed)
    {
        if (identitiesPerBatch < 1) throw new ArgumentException($"Identities per batch must be at least 1 (got {identitiesPerBatch}).");
        if (imagesPerIdentity < 2) throw new ArgumentException($"Images per identity must be at least 2 to form genuine pairs (got {imagesPerIdentity}).");
        var identities = FaceDataset.ImagesByIdentity(dataset);
        _eligible = identities.Where(v => v.Length >= imagesPerIdentity).ToArray();
        if (_eligible.Length < identitiesPerBatch)
            throw new ArgumentException($"Only {_eligible.Length} of the {identities.Length} identities have at least {imagesPerIdentity} images; a batch of " +
                $"{identitiesPerBatch} identities x {imagesPerIdentity} images needs {identitiesPerBatch}. Lower the identities per batch or the images per identity.");
        IdentitiesPerBatch = identitiesPerBatch;
        ImagesPerIdentity = imagesPerIdentity;
        _seed = seed;
    }

    /// <summary>P.</summary>
    public int IdentitiesPerBatch { get; }

    /// <summary>K.</summary>
    public int ImagesPerIdentity { get; }

    /// <summary>Identities with at least K images.</summary>
    public int EligibleIdentities => _eligible.Length;

    /// <summary>Images of the eligible identities.</summary>
    public int EligibleImages => _eligible.Sum(e => e.Length);

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => _eligible.Length / IdentitiesPerBatch;

    /// <summary>Batch <paramref name="index"/> of <paramref name="epoch"/>: P x K dataset indices, grouped by identity, and one random draw per image (for augmentation).</summary>
    public (int[] Indices, double[] Draws) Batch(int epoch, int index)
    {
        if (index < 0 || index >= BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(index), $"Batch {index} of an epoch of {BatchesPerEpoch}.");
        var order = Enumerable.Range(0, _eligible.Length).ToArray();
        new Random(SeedMixer.Mix(_seed, epoch, 0x5EED)).Shuffle(order);
        var random = new Random(SeedMixer.Mix(_seed, epoch, index));
        var indices = new int[IdentitiesPerBatch * ImagesPerIdentity];
        for (int p = 0; p < IdentitiesPerBatch; p++)
        {
            var images = (int[])_eligible[order[index * IdentitiesPerBatch + p]].Clone();
            random.Shuffle(images);
            Array.Copy(images, 0, indices, p * ImagesPerIdentity, ImagesPerIdentity);
        }
        return (indices, indices.Select(_ => random.NextDouble()).ToArray());
    }
}
