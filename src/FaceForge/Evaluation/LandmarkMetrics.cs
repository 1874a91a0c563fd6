using System.Numerics;
using FaceForge.Alignment;

namespace FaceForge.Evaluation;

/// <summary>Landmark accuracy measures.</summary>
public static class LandmarkMetrics
{
    /// <summary>
    /// Normalised mean error: the mean distance over the five points between <paramref name="predicted"/> and
    /// <paramref name="truth"/>, divided by the true inter-ocular distance (outer-eye-centre distance here, as the
    /// five-point sets have eye centres).
    /// </summary>
    public static double Nme(FaceLandmarks predicted, FaceLandmarks truth)
    {
        float interOcular = Vector2.Distance(truth.LeftEye, truth.RightEye);
        if (interOcular <= 0) throw new ArgumentException("The reference landmarks have coincident eyes.", nameof(truth));
        var p = predicted.ToArray();
        var t = truth.ToArray();
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += Vector2.Distance(p[i], t[i]);
        return sum / p.Length / interOcular;
    }
}
