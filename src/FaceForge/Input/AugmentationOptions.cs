using FaceForge.Occlusion;

namespace FaceForge.Input;

/// <summary>
/// Training augmentations, after arcface_torch: a horizontal flip, and optionally (all off by default) a
/// down-and-up rescale, a small blur, a quality degradation, an occluder, colour jitter and conversion to grey.
/// Probabilities are in [0, 1].
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>Probability of a horizontal flip. <value>The default is 0.5.</value></summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Probability of shrinking by a factor in [0.25, 1) and enlarging back. <value>The default is 0.</value></summary>
    public double DownscaleProbability { get; init; }

    /// <summary>Probability of a 3x3 box blur. <value>The default is 0.</value></summary>
    public double BlurProbability { get; init; }

    /// <summary>
    /// Probability of one quality degradation: Gaussian blur, down-and-up rescale, JPEG compression or darkening, the
    /// kind and its severity drawn uniformly (<see cref="Augmenter"/> gives the ranges). <value>The default is 0.</value>
    /// </summary>
    public double DegradeProbability { get; init; }

    /// <summary>
    /// Probability of painting one occluder over the face, placed by the template's points in the aligned crop
    /// (<see cref="OccluderPainter"/>: a kind drawn uniformly from <see cref="Occluders"/>, its size, place and shade at
    /// random), so a model learns to rely on what stays visible. <value>The default is 0.</value>
    /// </summary>
    public double OcclusionProbability { get; init; }

    /// <summary>
    /// The occluders drawn from. <value>The default is masks, dark glasses, hands and scarves: what people wear or
    /// raise in front of a face; half covers (a flat object over half of it) are for detectors.</value>
    /// </summary>
    public IReadOnlyList<OcclusionKind> Occluders { get; init; } = [OcclusionKind.Mask, OcclusionKind.Sunglasses, OcclusionKind.Hand, OcclusionKind.Scarf];

    /// <summary>Mask images for <see cref="OcclusionKind.Mask"/> (one drawn per mask); needed when masks are among <see cref="Occluders"/>.</summary>
    public IReadOnlyList<MaskOverlay>? MaskOverlays { get; init; }

    /// <summary>Probability of brightness, contrast and saturation jitter of ±20%. <value>The default is 0.</value></summary>
    public double ColorJitterProbability { get; init; }

    /// <summary>Probability of converting to grey. <value>The default is 0.</value></summary>
    public double GrayProbability { get; init; }

    /// <summary>
    /// Size j of a random similarity move: scale by e^u, rotate by u radians and shift by u times the eye distance in
    /// x and in y, each u uniform in [-j, j]. With landmarks the landmarks move before alignment; images taken as
    /// aligned are moved themselves about their centre (eye distance a third of the width; what the move uncovers is
    /// black, as in alignment). Views of different shapes without landmarks get the same draw but not quite the same
    /// move (each takes its own width as the scale of the shift).
    /// <value>The default is 0 (none).</value>
    /// </summary>
    public double AlignmentJitter { get; init; }

    /// <summary>No augmentation at all (evaluation).</summary>
    public static AugmentationOptions None { get; } = new() { FlipProbability = 0 };

    internal void Validate()
    {
        foreach (var (name, p) in new[] { (nameof(FlipProbability), FlipProbability), (nameof(DownscaleProbability), DownscaleProbability), (nameof(BlurProbability), BlurProbability), (nameof(DegradeProbability), DegradeProbability), (nameof(OcclusionProbability), OcclusionProbability), (nameof(ColorJitterProbability), ColorJitterProbability), (nameof(GrayProbability), GrayProbability), (nameof(AlignmentJitter), AlignmentJitter) })
        {
            if (p is < 0 or > 1 || double.IsNaN(p)) throw new ArgumentException($"{name} must be in [0, 1] (got {p}).", name);
        }
        if (OcclusionProbability == 0) return;
        if (Occluders is not { Count: > 0 }) throw new ArgumentException("Occlusion needs at least one occluder kind.", nameof(Occluders));
        if (Occluders.Contains(OcclusionKind.Mask) && MaskOverlays is not { Count: > 0 })
            throw new ArgumentException("Occlusion with masks needs mask overlays (PNG images with transparency).", nameof(MaskOverlays));
    }
}
