namespace FaceForge.Evaluation;

/// <summary>One verification pair: two image references, whether they show the same person, and its fold (0-based).</summary>
/// <param name="First">First image (a relative path, or an index into a .bin set as text).</param>
/// <param name="Second">Second image.</param>
/// <param name="IsSame">Whether both show one identity.</param>
/// <param name="Fold">Fold index, 0-based.</param>
public readonly record struct VerificationPair(string First, string Second, bool IsSame, int Fold);
