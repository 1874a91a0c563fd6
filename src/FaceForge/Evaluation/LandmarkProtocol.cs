using FaceForge.Alignment;
using FaceForge.Detection;

namespace FaceForge.Evaluation;

/// <summary>Results of <see cref="LandmarkProtocol"/>.</summary>
/// <param name="Detector">The detector's name.</param>
/// <param name="Images">Images scored.</param>
/// <param name="Found">Images where a face with landmarks was found.</param>
/// <param name="DetectionRate">Found / Images.</param>
/// <param name="Nme">Mean normalised mean error (by inter-ocular distance) over the found faces.</param>
/// <param name="NmeMedian">Median of the same.</param>
/// <param name="NmeOver10Percent">Found faces whose NME exceeds 10 %.</param>
/// <param name="MsPerImage">Wall time per image, decoding included.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record LandmarkReport(string Detector, int Images, int Found, double DetectionRate, double Nme, double NmeMedian, int NmeOver10Percent, double MsPerImage, double Seconds);

/// <summary>
/// Landmark accuracy against a reference file (e.g. LFW's): detect the face nearest each image's centre and compare
/// its five landmarks with the reference by NME.
/// </summary>
public static class LandmarkProtocol
{
    /// <summary>Scores <paramref name="detector"/> on <paramref name="keys"/> (paths under <paramref name="root"/>, all in <paramref name="reference"/>).</summary>
    /// <exception cref="ArgumentException">The detector gives no landmarks, or a key has no reference.</exception>
    public static LandmarkReport Run(IFaceDetector detector, string root, IReadOnlyDictionary<string, FaceLandmarks> reference, IReadOnlyList<string> keys,
        int batch = 16, IProgress<int>? progress = null)
    {
        if (!detector.HasLandmarks) throw new ArgumentException($"Detector '{detector.Name}' gives no landmarks.", nameof(detector));
        if (keys.FirstOrDefault(k => !reference.ContainsKey(k)) is { } missing) throw new ArgumentException($"'{missing}' has no reference landmarks.", nameof(keys));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var found = CentreFaceSweep.Run(detector, root, keys, batch, progress);
        double seconds = clock.Elapsed.TotalSeconds;
        var errors = keys.Where(k => found[k]?.Landmarks is not null).Select(k => LandmarkMetrics.Nme(found[k]!.Landmarks!.Value, reference[k])).Order().ToArray();
        return new LandmarkReport(detector.Name, keys.Count, errors.Length, (double)errors.Length / Math.Max(1, keys.Count),
            errors.Length > 0 ? errors.Average() : double.NaN, errors.Length > 0 ? errors[errors.Length / 2] : double.NaN, errors.Count(e => e > 0.1),
            Math.Round(1000 * seconds / Math.Max(1, keys.Count), 2), Math.Round(seconds, 1));
    }
}
