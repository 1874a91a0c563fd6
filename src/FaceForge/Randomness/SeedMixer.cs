namespace FaceForge.Randomness;

/// <summary>
/// Derives a seed from several integers, the same in every process and on every run (unlike HashCode.Combine,
/// which .NET randomises per process): what keeps data order, augmentation and sampling reproducible across resumes.
/// </summary>
public static class SeedMixer
{
    /// <summary>A non-negative 31-bit seed mixed from <paramref name="parts"/> with SplitMix64 steps.</summary>
    public static int Mix(params long[] parts)
    {
        ulong h = 0x9E3779B97F4A7C15;
        foreach (long part in parts)
        {
            h ^= (ulong)part + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2);
            h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9;
            h = (h ^ (h >> 27)) * 0x94D049BB133111EB;
            h ^= h >> 31;
        }
        return (int)(h & 0x7FFFFFFF);
    }
}
