using System.Text.Json;
using FaceForge.Cli;
using Xunit;

namespace FaceForge.Tests;

public class CliTests
{
    [Theory]
    [InlineData("full")]
    [InlineData("full-autograd")]
    [InlineData("pfc")]
    [InlineData("ffc")]
    public void ClassifierBenchReportsStepTimeAndClassMemory(string method)
    {
        var (code, output, error) = CliHarness.Run("bench", "classifier", "--method", method, "--classes", "2000", "--batch", "16", "--dim", "32", "--steps", "1", "--json");
        Assert.True(code == 0, error);
        var json = System.Text.Json.JsonDocument.Parse(output).RootElement;
        Assert.Equal(2000, json.GetProperty("classes").GetInt64());
        Assert.True(json.GetProperty("ms_per_step").GetDouble() > 0 && json.GetProperty("peak_rss_mb").GetDouble() > 0);
        // Class-side memory: centres, momentum and update steps (or autograd's gradient) against FFC's 200-entry pool.
        double expected = method switch { "ffc" => 2 * 200 * 32 * 4, "full-autograd" => 3 * 2000 * 32 * 4, _ => 2000 * (2 * 32 * 4 + 8) };
        Assert.InRange(json.GetProperty("class_memory_mb").GetDouble() * 1048576, expected * 0.95, expected * 1.1 + 0.1 * 1048576);
    }

    [Fact]
    public void ClassifierBenchRefusesOptionsOfAnotherMethod()
    {
        var (code, _, error) = CliHarness.Run("bench", "classifier", "--method", "ffc", "--classes", "100", "--rate", "0.2");
        Assert.Equal(2, code);
        Assert.Contains("Partial FC's", error);
        (code, _, error) = CliHarness.Run("bench", "classifier", "--method", "ffc", "--classes", "100", "--pool-size", "200");
        Assert.Equal(2, code);
        Assert.Contains("exceeds the 100 classes", error);
    }

    [Fact]
    public void SynthThenInfoThenPackThenInfo()
    {
        string dir = TestPaths.NewTempDirectory("cli");
        var synth = CliHarness.Run("data", "synth", "--out", dir, "--identities", "4", "--images", "3", "--seed", "2", "--scenes", "2", "--json");
        Assert.Equal(0, synth.Code);
        Assert.Equal(12, JsonDocument.Parse(synth.Output).RootElement.GetProperty("images").GetInt32());
        Assert.Equal(Path.Combine(dir, "faces"), JsonDocument.Parse(synth.Output).RootElement.GetProperty("path").GetString());
        Assert.True(File.Exists(Path.Combine(dir, "scenes", "label.txt")));

        var info = CliHarness.Run("data", "info", Path.Combine(dir, "faces"), "--json");
        Assert.Equal(0, info.Code);
        var json = JsonDocument.Parse(info.Output).RootElement;
        Assert.Equal((4, 12, "folder", 0), (json.GetProperty("identities").GetInt32(), json.GetProperty("images").GetInt32(), json.GetProperty("format").GetString(), json.GetProperty("bad").GetInt32()));

        var pack = CliHarness.Run("data", "pack", "--images", Path.Combine(dir, "faces"), "--out", Path.Combine(dir, "packed"));
        Assert.Equal(0, pack.Code);
        var recInfo = CliHarness.Run("data", "info", Path.Combine(dir, "packed.rec"), "--json");
        Assert.Equal(0, recInfo.Code);
        var rec = JsonDocument.Parse(recInfo.Output).RootElement;
        Assert.Equal((4, 12, "recordio"), (rec.GetProperty("identities").GetInt32(), rec.GetProperty("images").GetInt32(), rec.GetProperty("format").GetString()));

        // PREFIX.rec names the same pair as PREFIX (it used to print PREFIX.rec.rec); a bare folder names none.
        var named = CliHarness.Run("data", "pack", "--images", Path.Combine(dir, "faces"), "--out", Path.Combine(dir, "named.rec"));
        Assert.Equal(0, named.Code);
        Assert.Contains($"into {Path.Combine(dir, "named.rec")} ", named.Output);
        Assert.True(File.Exists(Path.Combine(dir, "named.idx")));
        var folder = CliHarness.Run("data", "pack", "--images", Path.Combine(dir, "faces"), "--out", dir + "/");
        Assert.Equal(CliRunner.UserErrorExitCode, folder.Code);
        Assert.Contains("give a prefix such as", folder.Error);
        Assert.False(File.Exists(Path.Combine(dir, ".rec")));
    }

    [Fact]
    public void TrainStoresItsPathsAbsoluteAndKeepsItsRunOutOfTheData()
    {
        string root = DataFormatTests.MakeFolder("cli-paths", 3, 2);
        string[] common = ["--arch", "mobilefacenet", "--width", "0.125", "--embedding-size", "32", "--max-steps", "1", "--workers", "1"];
        // Inside the data, a run folder would be read back as an identity without images by every later command.
        var inside = CliHarness.Run(["train", "--data", root, "--out", Path.Combine(root, "run"), "--batch-size", "4", .. common]);
        Assert.Equal(CliRunner.UserErrorExitCode, inside.Code);
        Assert.Contains("lies inside --data", inside.Error);
        Assert.False(Directory.Exists(Path.Combine(root, "run")));
        // A run refused while it is built (6 images, fewer than a batch) leaves no folder behind, so a retry needs no --force.
        string run = Path.Combine(root + "-runs", "run");
        var tooFew = CliHarness.Run(["train", "--data", root, "--out", run, "--batch-size", "64", .. common]);
        Assert.Equal(CliRunner.UserErrorExitCode, tooFew.Code);
        Assert.Contains("fewer than one batch", tooFew.Error);
        Assert.False(Directory.Exists(run));
        // Nor does one whose first batches meet an unreadable image (found by the loader, after the run is built).
        string broken = DataFormatTests.MakeFolder("cli-broken", 2, 2);
        foreach (string file in Directory.GetFiles(Path.Combine(broken, "person1"))) File.WriteAllBytes(file, []);
        var unreadable = CliHarness.Run(["train", "--data", broken, "--out", run, "--batch-size", "4", .. common]);
        Assert.Equal(CliRunner.UserErrorExitCode, unreadable.Code);
        Assert.Contains("empty file", unreadable.Error);
        Assert.False(Directory.Exists(run));
        // A relative --data is stored absolute, so --resume works from any working directory.
        var trained = CliHarness.Run(["train", "--data", Path.GetRelativePath(Environment.CurrentDirectory, root), "--out", run, "--batch-size", "4", .. common]);
        Assert.Equal(0, trained.Code);
        Assert.Equal(root, JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))).RootElement.GetProperty("data").GetString());
    }

    [Fact]
    public void InfoFailsOnABadImageUnlessSkipBad()
    {
        string root = DataFormatTests.MakeFolder("clibad", 2, 2);
        File.WriteAllText(Path.Combine(root, "person0", "1.png"), "text");
        var failed = CliHarness.Run("data", "info", root, "--json");
        Assert.Equal(CliRunner.UserErrorExitCode, failed.Code);
        Assert.Contains("1.png", failed.Error);
        Assert.Single(failed.Error.Trim().Split('\n'));
        var skipped = CliHarness.Run("data", "info", root, "--skip-bad", "--json");
        Assert.Equal(0, skipped.Code);
        Assert.Equal(1, JsonDocument.Parse(skipped.Output).RootElement.GetProperty("bad").GetInt32());
    }

    [Fact]
    public void PhotosOutsideTheSetAreNamedAndJfifIsRead()
    {
        string root = DataFormatTests.MakeFolder("cliunread", 2, 1);
        // .jfif and .jpe are JPEG names and are read; a TIFF, a photo at the root and one in a sub-folder are not, and say so.
        File.Copy(Path.Combine(root, "person0", "0.png"), Path.Combine(root, "person0", "1.jfif"));
        File.Copy(Path.Combine(root, "person1", "0.png"), Path.Combine(root, "person1", "1.jpe"));
        File.WriteAllText(Path.Combine(root, "person0", "scan.tiff"), "II*");
        File.Copy(Path.Combine(root, "person0", "0.png"), Path.Combine(root, "stray.png"));
        Directory.CreateDirectory(Path.Combine(root, "person1", "Été"));
        File.Copy(Path.Combine(root, "person0", "0.png"), Path.Combine(root, "person1", "Été", "old.png"));
        File.WriteAllText(Path.Combine(root, "person1", "notes.txt"), "not a photo");
        // Neither a link that loops back to the root nor a hidden folder is walked (the set does not read them either).
        Directory.CreateSymbolicLink(Path.Combine(root, "person1", "loop"), root);
        Directory.CreateDirectory(Path.Combine(root, ".thumbnails"));
        File.Copy(Path.Combine(root, "person0", "0.png"), Path.Combine(root, ".thumbnails", "t.png"));
        var info = CliHarness.Run("data", "info", root, "--json");
        Assert.Equal(0, info.Code);
        var json = JsonDocument.Parse(info.Output).RootElement;
        Assert.Equal(4, json.GetProperty("images").GetInt32());
        var notRead = json.GetProperty("not_read").EnumerateArray().Select(e => (Path.GetRelativePath(root, e.GetProperty("path").GetString()!), e.GetProperty("reason").GetString()!)).ToList();
        Assert.Equal(["person0/scan.tiff", "person1/Été/old.png", "stray.png"], notRead.Select(n => n.Item1));
        Assert.Contains("Été/old.png", info.Output); // JSON text keeps names as written, not \u00C9t\u00E9
        Assert.Contains("TIFF images are not read", notRead[0].Item2);
        Assert.Contains("sub-folder", notRead[1].Item2);
        Assert.Contains("at the root", notRead[2].Item2);
        Assert.Contains("note: 3 photo file(s)", info.Error);
    }

    [Fact]
    public void ALinkToTheSetsOwnFolderIsNotAnIdentity()
    {
        string root = DataFormatTests.MakeFolder("clilinkroot", 2, 2);
        File.Copy(Path.Combine(root, "person0", "0.png"), Path.Combine(root, "stray.png"));
        // "self -> ." would make an identity of the root's photos (and of the identity folders' names as its files' folder).
        Directory.CreateSymbolicLink(Path.Combine(root, "self"), ".");
        var refused = CliHarness.Run("data", "info", root, "--json");
        Assert.Equal(CliRunner.UserErrorExitCode, refused.Code);
        Assert.Contains(Path.Combine(root, "self") + ": a link to the data set's own folder", refused.Error);
        var skipped = CliHarness.Run("data", "info", root, "--skip-bad", "--json");
        Assert.True(skipped.Code == 0, skipped.Error);
        var json = JsonDocument.Parse(skipped.Output).RootElement;
        Assert.Equal((2, 4), (json.GetProperty("identities").GetInt32(), json.GetProperty("images").GetInt32()));
    }

    [Fact]
    public void UserMistakesGiveOneLineAndExitTwo()
    {
        var missing = CliHarness.Run("data", "info", "/no/such/dataset");
        Assert.Equal(CliRunner.UserErrorExitCode, missing.Code);
        Assert.Contains("/no/such/dataset", missing.Error);
        Assert.DoesNotContain("   at ", missing.Error);

        string dir = TestPaths.NewTempDirectory("clinoidx");
        File.WriteAllBytes(Path.Combine(dir, "x.rec"), [1]);
        var noIdx = CliHarness.Run("data", "info", Path.Combine(dir, "x.rec"));
        Assert.Equal(CliRunner.UserErrorExitCode, noIdx.Code);
        Assert.Contains("x.idx", noIdx.Error);
    }

    [Fact]
    public void BadOptionValuesFailAtParseTime()
    {
        var result = CliHarness.Run("data", "synth", "--out", TestPaths.NewTempDirectory("x"), "--identities", "0");
        Assert.NotEqual(0, result.Code);
        Assert.Contains("--identities", result.Error);
    }

    [Fact]
    public void HelpListsTheDataCommands()
    {
        var help = CliHarness.Run("data", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("synth", help.Output);
        Assert.Contains("pack", help.Output);
        Assert.Contains("info", help.Output);
    }

    [Fact]
    public void EvaluationOptionsOutOfRangeNameTheOption()
    {
        string dir = TestPaths.NewTempDirectory("cli-eval-ranges");
        string empty = Path.Combine(dir, "empty.txt");
        File.WriteAllText(empty, "# nothing\n");
        string annotations = Path.Combine(dir, "label.txt");
        File.WriteAllText(annotations, "# a.png\n1 1 4 4\n");
        string detector = Path.Combine(dir, "det.onnx");
        File.WriteAllBytes(detector, [1]);
        (string[] Args, string Expected)[] cases =
        [
            (["eval", "landmarks", "--model", detector, "--images", dir, "--landmarks", empty], "no landmarks in the file"),
            (["eval", "detect", "--model", detector, "--images", dir, "--annotations", annotations, "--iou", "1.5"], "--iou: 1.5 is not an overlap in (0, 1]."),
            (["eval", "detect", "--model", detector, "--images", dir, "--annotations", annotations, "--iou", "0"], "--iou: 0 is not an overlap"),
            (["eval", "verify", "--model", detector, "--images", dir, "--pairs", empty, "--folds", "10-6"], "--folds: Bad fold range '10-6'"),
            (["detect", "--model", detector, annotations, "--max-side", "0"], "--max-side: 0 is below 32 pixels."),
            (["detect", "--model", detector, annotations, "--confidence", "2"], "--confidence: 2 is not a score in [0, 1]."),
        ];
        foreach (var (args, expected) in cases)
        {
            var result = CliHarness.Run(args);
            Assert.True(result.Code == CliRunner.UserErrorExitCode, $"{string.Join(' ', args)}: exit {result.Code}, {result.Error}");
            Assert.Contains(expected, result.Error);
        }
    }
}
