using FaceForge.Training.Runtime;
using static TorchSharp.torch;

namespace FaceForge.Training.Heads;

/// <summary>
/// Probabilistic Face Embeddings' training loss: the mean over every genuine pair (i &lt; j, same label: each pair
/// once) of sum_d [(mu_i - mu_j)^2 / (s_i + s_j) + ln(s_i + s_j)], which is minus twice the mutual likelihood score
/// without its constant. The means are fixed (the backbone is frozen); only the variances learn.
/// </summary>
public static class MutualLikelihoodLoss
{
    /// <summary>The loss of a batch; fails when the batch holds no genuine pair.</summary>
    /// <param name="mu">Unit-length embeddings, N x D.</param>
    /// <param name="logSigmaSq">log sigma^2, N x D.</param>
    /// <param name="labels">Identity per row, N (int64).</param>
    public static Tensor Compute(Tensor mu, Tensor logSigmaSq, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var (first, second) = GenuinePairs(labels);
        var sigmaSum = TensorSum.Add(logSigmaSq.index_select(0, first).exp(), logSigmaSq.index_select(0, second).exp());
        var diff = mu.index_select(0, first).sub(mu.index_select(0, second));
        var perPair = TensorSum.Add(diff.pow(RootedScalars.Two).div(sigmaSum), sigmaSum.log()).sum(1);
        return perPair.mean().MoveToOuterDisposeScope();
    }

    /// <summary>Row indices (i, j), i &lt; j, of every pair with equal labels.</summary>
    public static (Tensor First, Tensor Second) GenuinePairs(Tensor labels)
    {
        var values = labels.cpu().data<long>().ToArray();
        var first = new List<long>();
        var second = new List<long>();
        for (int i = 0; i < values.Length; i++)
            for (int j = i + 1; j < values.Length; j++)
                if (values[i] == values[j]) { first.Add(i); second.Add(j); }
        if (first.Count == 0) throw new ArgumentException("The batch holds no two images of one identity: the mutual likelihood loss needs genuine pairs.");
        return (tensor(first.ToArray()), tensor(second.ToArray()));
    }
}
