namespace FaceForge;

/// <summary>
/// IO failures of the machine, not of FaceForge, whose message already names the path: a full disk (ENOSPC), a quota
/// (EDQUOT), a read-only file system (EROFS), a name too long (ENAMETOOLONG), a folder where a file is to be written or
/// a file where a folder is expected (EISDIR, ENOTDIR), and a folder that may not be removed or
/// written (.NET reports EACCES, EPERM and EROFS on a folder as "Access to the path '…' is denied" without an errno).
/// .NET puts the errno in HResult on Unix.
/// </summary>
internal static class DiskProblem
{
    public static bool Is(IOException e) => IsFull(e) || e.HResult is 30 or 36 or 20 or 21
        || e.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase) || e.Message.StartsWith("Access to the path", StringComparison.Ordinal);

    /// <summary>No room left: a full disk (ENOSPC, also as the message of an error that lost its errno) or a quota (EDQUOT).</summary>
    public static bool IsFull(IOException e) => e.HResult is 28 or 122 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);
}
