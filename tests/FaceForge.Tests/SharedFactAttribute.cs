using Xunit;

namespace FaceForge.Tests;

/// <summary>A fact that needs a file or folder under ../shared; it is skipped, with a message naming it, when absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute(string relativePath)
    {
        string message = TestPaths.SharedOrSkipMessage(relativePath, out var path);
        if (path is null) Skip = message;
    }
}

/// <summary>A theory that needs a file or folder under ../shared; it is skipped, with a message naming it, when absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute(string relativePath)
    {
        string message = TestPaths.SharedOrSkipMessage(relativePath, out var path);
        if (path is null) Skip = message;
    }
}

/// <summary>
/// A fact that mounts small tmpfs file systems (a full disk, a read-only folder); skipped, saying why, where this
/// process may not mount (not root, or no mount permission in the container).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class MountFactAttribute : FactAttribute
{
    public MountFactAttribute()
    {
        string probe = TestPaths.NewTempDirectory("mount-probe");
        if (!FaultTests.Mount(probe, "size=64k"))
            Skip = "cannot mount a tmpfs here (needs root and mount permission): the full-disk and read-only tests did not run";
        else FaultTests.Unmount(probe);
    }
}
