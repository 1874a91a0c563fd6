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
