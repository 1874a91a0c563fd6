namespace FaceForge.Gallery;

/// <summary>
/// An open-set threshold calibrated by <see cref="FaceGallery.Calibrate"/>: the threshold, the FPIR it was asked
/// for, how many unknown probes it was measured on, and the FPIR those probes give at that threshold.
/// </summary>
public sealed record GalleryCalibration(double Threshold, double TargetFpir, int Probes, double Fpir);
