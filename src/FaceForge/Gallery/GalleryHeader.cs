namespace FaceForge.Gallery;

/// <summary>What a store records about its gallery besides the faces: the model, the creation options, the threshold.</summary>
/// <param name="Model">The recorded model.</param>
/// <param name="Options">The creation options.</param>
/// <param name="Threshold">The open-set threshold, or null.</param>
/// <param name="ThresholdFpir">The FPIR it was calibrated for, or null.</param>
public sealed record GalleryHeader(GalleryModel Model, GalleryOptions Options, double? Threshold, double? ThresholdFpir);
