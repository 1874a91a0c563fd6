using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Distillation;

/// <summary>
/// VarGFaceNet's angular distillation term: weight x the squared L2 distance between the L2-normalised student and
/// teacher embeddings, which equals weight x (2 - 2 cos), averaged over the batch.
/// </summary>
public static class DistillationLoss
{
    /// <summary>The batch's mean term; <paramref name="student"/> and <paramref name="teacher"/> are N x d, not normalised.</summary>
    public static Tensor Compute(Tensor student, Tensor teacher, double weight)
    {
        if (student.shape.Length != 2 || !student.shape.SequenceEqual(teacher.shape))
            throw new ArgumentException($"Student and teacher embeddings must both be N x d (got [{string.Join(", ", student.shape)}] and [{string.Join(", ", teacher.shape)}]).");
        using var scope = torch.NewDisposeScope();
        // Tensor arithmetic only: a temporary Scalar may be freed while libtorch reads it (see TensorSum).
        var difference = Runtime.TensorSum.Add(nn.functional.normalize(student, p: 2, dim: 1), nn.functional.normalize(teacher, p: 2, dim: 1).neg());
        return difference.pow(Runtime.RootedScalars.Two).sum(1).mean().mul(torch.tensor(weight, student.dtype)).MoveToOuterDisposeScope();
    }
}
