using FaceForge.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>
/// The initial class centres, N(0, 0.01), drawn in fixed blocks of rows each seeded from (seed, block): row c gets the
/// same values whatever shard, process or classifier holds it, so a full softmax, Partial FC with any shard count, and
/// an MPI run over any number of processes all start from the same matrix.
/// </summary>
internal static class ClassCentreInit
{
    private const long BlockRows = 1 << 16;

    // N(0, 0.01)'s mean and spread, rooted (RootedScalars).
    private static readonly Scalar Centre = 0.0, Spread = 0.01;

    /// <summary>Rows [<paramref name="start"/>, start + <paramref name="count"/>) of the initial <paramref name="classes"/>-row matrix, in <paramref name="type"/>.</summary>
    public static Tensor Rows(long start, long count, long classes, int embeddingSize, int seed, ScalarType type)
    {
        // Filled block by block so fp16 centres never need a full fp32 copy (4M x 512 would be 8 GB).
        var centres = torch.empty([count, embeddingSize], type);
        using var generator = new Generator(0);
        for (long block = start / BlockRows; block * BlockRows < start + count; block++)
        {
            using var scope = torch.NewDisposeScope();
            long blockStart = block * BlockRows;
            long from = Math.Max(start, blockStart), to = Math.Min(start + count, blockStart + BlockRows);
            generator.manual_seed(Randomness.SeedMixer.Mix(seed, 0xCE47, block));
            // Always the whole block: libtorch's normal sampler treats a tensor's last few values differently, so
            // drawing only a prefix would change them.
            // torch.normal(0, 0.01, ...) as it computes it, randn * std + mean, with Scalars that outlive the calls (RootedScalars).
            var values = torch.randn([Math.Min(BlockRows, classes - blockStart), embeddingSize], generator: generator).mul_(Spread).add_(Centre, RootedScalars.One);
            centres.narrow(0, from - start, to - from).copy_(values.narrow(0, from - blockStart, to - from).to_type(type));
        }
        return centres;
    }
}
