using FaceForge.Training.Heads;
using FaceForge.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>
/// The full (non-sampled) classifier: one centre per class (C x d, registered as "weight"), cosine logits through a
/// <see cref="MarginHead"/>, cross-entropy plus the head's regulariser.
/// </summary>
public sealed class MarginSoftmaxClassifier : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly MarginHead head;

    /// <summary>
    /// Creates a classifier over <paramref name="classes"/> classes of <paramref name="embeddingSize"/>-d features; the
    /// centres for <paramref name="seed"/> are those Partial FC starts from with the same seed.
    /// </summary>
    public MarginSoftmaxClassifier(int classes, int embeddingSize, MarginHead margin, int seed = 0) : base(nameof(MarginSoftmaxClassifier))
    {
        if (classes < 2) throw new ArgumentException($"Need at least 2 classes (got {classes}).", nameof(classes));
        weight = new Parameter(ClassCentreInit.Rows(0, classes, classes, embeddingSize, seed, ScalarType.Float32));
        head = margin;
        RegisterComponents();
    }

    /// <summary>The class count.</summary>
    public long Classes => weight.shape[0];

    /// <summary>The margin head.</summary>
    public MarginHead Head => head;

    /// <summary>Mean loss of <paramref name="embeddings"/> (N x d, not normalised) with <paramref name="labels"/> (N).</summary>
    public override Tensor forward(Tensor embeddings, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var norms = embeddings.norm(1);
        var cosine = nn.functional.linear(nn.functional.normalize(embeddings, dim: 1), nn.functional.normalize(weight, dim: 1)).clamp(RootedScalars.MinusOne, RootedScalars.One);
        head.Observe(cosine.gather(1, labels.unsqueeze(1)).mean().detach());
        var loss = nn.functional.cross_entropy(head.Logits(cosine, labels, norms), labels);
        if (head.Regularizer(norms) is { } extra) loss = TensorSum.Add(loss, extra);
        return loss.MoveToOuterDisposeScope();
    }
}
