namespace FaceForge.Training.Hosting;

/// <summary>
/// The fingerprint of an input file a run depends on (a frozen model, a teacher), recorded when the run starts and
/// compared on resume, so a file replaced under the same name is caught.
/// </summary>
internal static class FileHash
{
    /// <summary>The SHA-256 of <paramref name="path"/>'s bytes, in upper-case hex.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream));
    }
}
