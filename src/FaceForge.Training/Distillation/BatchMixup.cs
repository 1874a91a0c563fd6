using FaceForge.Randomness;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Distillation;

/// <summary>
/// Mixup for distillation ("function matching", Beyer et al. 2022, "Knowledge distillation: a good teacher is patient
/// and consistent"): some samples of a batch become a blend lambda x a + (1 - lambda) x b of two of its photos, with
/// the same partner and lambda in the student's crops and the teacher's, so the student matches the teacher on images
/// between the training photos as well as on them. On a few thousand photos the student otherwise learns the teacher's
/// function on those photos much better than on new people. A blend has no identity, so it takes part in the
/// distillation term only. Draws depend on the seed and the step alone: a resumed run mixes as the uninterrupted one.
/// </summary>
internal sealed class BatchMixup
{
    private readonly double _probability;
    private readonly int _seed;

    /// <param name="probability">Probability that a sample is blended with another of its batch.</param>
    /// <param name="seed">The run's seed.</param>
    public BatchMixup(double probability, int seed)
    {
        if (probability is < 0 or > 1 || double.IsNaN(probability))
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "A mixup probability lies in [0, 1].");
        _probability = probability;
        _seed = seed;
    }

    /// <summary>One step's draw: for every sample its partner and its own weight lambda (1 and itself when not blended).</summary>
    public (int[] Partners, float[] Lambdas) Draw(int batchSize, int step)
    {
        var random = new Random(SeedMixer.Mix(_seed, step, 0x4D1C));
        var partners = new int[batchSize];
        var lambdas = new float[batchSize];
        for (int i = 0; i < batchSize; i++)
        {
            partners[i] = i;
            lambdas[i] = 1;
            if (batchSize < 2 || random.NextDouble() >= _probability) continue;
            int other = random.Next(batchSize - 1);
            partners[i] = other >= i ? other + 1 : other;
            // lambda ~ U(0, 1): with a partner drawn at random, lambda and 1 - lambda are the same blend.
            lambdas[i] = (float)random.NextDouble();
        }
        return (partners, lambdas);
    }

    /// <summary>
    /// Blends <paramref name="views"/> (each N x C x H x W, of one batch) in place of the originals by one draw, and
    /// returns the indices of the samples left unblended (those the margin loss sees).
    /// </summary>
    public (Tensor[] Views, Tensor Unmixed) Apply(IReadOnlyList<Tensor> views, int step)
    {
        int n = (int)views[0].shape[0];
        var (partners, lambdas) = Draw(n, step);
        using var scope = torch.NewDisposeScope();
        var partnerIndex = torch.tensor(partners.Select(p => (long)p).ToArray(), ScalarType.Int64);
        // Tensor arithmetic only: a temporary Scalar may be freed while libtorch reads it (see TensorSum).
        var lambda = torch.tensor(lambdas, [n, 1, 1, 1]);
        var rest = torch.tensor(lambdas.Select(l => 1 - l).ToArray(), [n, 1, 1, 1]);
        var mixed = views.Select(v => Runtime.TensorSum.Add(v.mul(lambda), v.index_select(0, partnerIndex).mul(rest)).MoveToOuterDisposeScope()).ToArray();
        var unmixed = torch.tensor(Enumerable.Range(0, n).Where(i => partners[i] == i).Select(i => (long)i).ToArray(), ScalarType.Int64);
        return (mixed, unmixed.MoveToOuterDisposeScope());
    }
}
