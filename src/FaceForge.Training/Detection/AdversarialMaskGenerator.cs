using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Detection;

/// <summary>The candidate masks the generator chooses among, in the three modes of the seed review.</summary>
public enum MaskMode
{
    /// <summary>Drop the features around one landmark (eyes, nose, mouth corners).</summary>
    Landmark,
    /// <summary>Drop the left, right, upper or lower half of the face.</summary>
    Half,
    /// <summary>Drop a random half of the face's feature cells.</summary>
    RandomHalf,
}

/// <summary>
/// AOFD's adversary: for each face it picks the mask (among 5 landmark discs, 4 halves and 2 random halves) to hide
/// from the detector, from the face's pooled features. It is trained by policy gradient to raise the detector's
/// classification loss on the masked features, while the detector is trained to lower it.
/// </summary>
/// <remarks>Not thread-safe.</remarks>
public sealed class AdversarialMaskGenerator : nn.Module<Tensor, Tensor>
{
    /// <summary>Candidates per face: 5 landmark discs, left/right/upper/lower halves, 2 random halves.</summary>
    public const int Candidates = 11;

    private readonly Sequential policy;

    /// <summary>Creates the generator over <paramref name="channels"/>-channel pooled features.</summary>
    public AdversarialMaskGenerator(int channels = RetinaFaceMobileNet.FeatureChannels) : base(nameof(AdversarialMaskGenerator))
    {
        policy = nn.Sequential(nn.Linear(channels, 32), nn.ReLU(), nn.Linear(32, Candidates));
        RegisterComponents();
    }

    /// <summary>Candidate logits, F x 11, for F faces' pooled features (F x channels).</summary>
    public override Tensor forward(Tensor pooled) => policy.call(pooled);

    /// <summary>The mode of candidate <paramref name="index"/>.</summary>
    public static MaskMode ModeOf(int index) => index < 5 ? MaskMode.Landmark : index < 9 ? MaskMode.Half : MaskMode.RandomHalf;

    /// <summary>
    /// Whether the feature cell centred at (<paramref name="x"/>, <paramref name="y"/>) pixels is hidden by candidate
    /// <paramref name="index"/> for a face with <paramref name="box"/> (l, t, r, b) and five landmarks (x, y pairs).
    /// </summary>
    public static bool Hides(int index, float x, float y, ReadOnlySpan<float> box, ReadOnlySpan<float> landmarks, int randomSeed)
    {
        if (x < box[0] || x > box[2] || y < box[1] || y > box[3]) return false;
        float cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
        switch (index)
        {
            case < 5:
            {
                float radius = 0.22f * MathF.Max(box[2] - box[0], box[3] - box[1]);
                float dx = x - landmarks[2 * index], dy = y - landmarks[2 * index + 1];
                return dx * dx + dy * dy <= radius * radius;
            }
            case 5: return x < cx;
            case 6: return x >= cx;
            case 7: return y < cy;
            case 8: return y >= cy;
            default:
                // A fixed pseudo-random half of the cells, different for the two random candidates and per step.
                uint h = unchecked((uint)(randomSeed * 73856093) ^ (uint)((int)x * 19349663) ^ (uint)((int)y * 83492791) ^ ((uint)index * 2654435761u));
                h ^= h >> 13; h = unchecked(h * 0x5bd1e995); h ^= h >> 15;
                return (h & 1) == 0;
        }
    }
}
