using Xunit;

namespace FaceForge.Tests;

public class ReadmeTests
{
    /// <summary>The README's C# example is the file CI builds and runs outside the solution (samples/quickstart.sh), so it cannot rot.</summary>
    [Fact]
    public void CSharpExampleIsTheSampleThatCiBuildsAndStaysShort()
    {
        var readme = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "README.md"));
        int start = Array.IndexOf(readme, "```csharp");
        Assert.True(start >= 0, "README has no C# example");
        var example = readme.Skip(start + 1).TakeWhile(l => l != "```").ToArray();
        var sample = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "samples", "QuickStart", "Program.cs"));
        Assert.Equal(sample, example);
        Assert.InRange(example.Length, 1, 14);
    }
}
