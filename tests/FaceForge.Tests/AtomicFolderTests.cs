using Xunit;

namespace FaceForge.Tests;

/// <summary>A folder written whole or not at all (the full-disk cases are in FaultTests, which need a tmpfs).</summary>
public class AtomicFolderTests
{
    private static Dictionary<string, string> Content(string folder) => Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
        .ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllText);

    private static void Fill(string folder, string text)
    {
        Directory.CreateDirectory(Path.Combine(folder, "person"));
        File.WriteAllText(Path.Combine(folder, "person", "a.txt"), text);
        File.WriteAllText(Path.Combine(folder, "list.txt"), text);
    }

    [Fact]
    public void AMissingFolderIsCreatedWithItsParentsAndNothingIsLeftBeside()
    {
        string root = TestPaths.NewTempDirectory("atomic-new"), target = Path.Combine(root, "a", "set");
        Assert.Equal(7, AtomicFolder.Write(target, staged => { Assert.NotEqual(target, staged); Fill(staged, "new"); return 7; }));
        Assert.Equal(new Dictionary<string, string> { ["person/a.txt"] = "new", ["list.txt"] = "new" }, Content(target));
        Assert.Equal(["set"], Directory.GetFileSystemEntries(Path.Combine(root, "a")).Select(Path.GetFileName));
    }

    [Fact]
    public void AnExistingFolderKeepsItsModeAndGetsOnlyTheNewEntries()
    {
        string target = Path.Combine(TestPaths.NewTempDirectory("atomic-replace"), "set");
        Fill(target, "old");
        File.WriteAllText(Path.Combine(target, "stale.txt"), "old");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        var mode = OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(target);
        AtomicFolder.Write(target, staged =>
        {
            // While the new set is written, the old one is whole.
            Assert.Equal("old", File.ReadAllText(Path.Combine(target, "person", "a.txt")));
            Fill(staged, "new");
        });
        Assert.Equal(new Dictionary<string, string> { ["person/a.txt"] = "new", ["list.txt"] = "new" }, Content(target));
        Assert.Empty(Directory.GetDirectories(target, ".*"));
        if (!OperatingSystem.IsWindows()) Assert.Equal(mode, File.GetUnixFileMode(target));
    }

    [Fact]
    public void AFailedWriteLeavesTheOldFolderAndNoStagingAndItsErrorUnchanged()
    {
        string root = TestPaths.NewTempDirectory("atomic-fail"), target = Path.Combine(root, "set"), missing = Path.Combine(root, "none");
        Fill(target, "old");
        var before = Content(target);
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(target, staged => { Fill(staged, "new"); throw new InvalidOperationException("bad record 7"); }));
        Assert.Equal("bad record 7", e.Message);
        Assert.Equal(before, Content(target));
        Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(missing, staged => { Fill(staged, "new"); throw new InvalidOperationException("bad"); }));
        Assert.Equal(["set"], Directory.GetFileSystemEntries(root).Select(Path.GetFileName));
        Assert.Equal(2, Directory.GetFileSystemEntries(target).Length);
    }

    [Fact]
    public void ALinkedFolderIsWrittenThroughItsLink()
    {
        if (OperatingSystem.IsWindows()) return;
        string root = TestPaths.NewTempDirectory("atomic-link"), real = Path.Combine(root, "real"), link = Path.Combine(root, "link");
        Fill(real, "old");
        Directory.CreateSymbolicLink(link, real);
        AtomicFolder.Write(link, staged => Fill(staged, "new"));
        Assert.NotNull(new DirectoryInfo(link).LinkTarget);
        Assert.Equal("new", File.ReadAllText(Path.Combine(real, "list.txt")));
    }
}
