using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FaceForge.Data.RecordIo;
using FaceForge.Synthesis;
using Xunit;

namespace FaceForge.Tests;

/// <summary>
/// The fault suite behind docs/reliability.md: hostile files, bad options, killed writers, racing trainers, a
/// read-only folder and a full disk. Each fault must end in exit 2 with one line naming the file, record or option
/// (or be handled as documented), and nothing already written may be lost.
/// </summary>
public class FaultTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{

    private static string Faceforge => Path.Combine(AppContext.BaseDirectory, "faceforge");

    private string Image(int index) => Path.Combine(data.Root, data.Dataset.RelativePath(index));


    /// <summary>Runs the command in-process; asserts exit 2 with a one-line error containing each of <paramref name="mentions"/>.</summary>
    private static string UserError(string[] args, params string[] mentions)
    {
        var (code, _, error) = CliHarness.Run(args);
        Assert.True(code == 2, $"exit {code} for {string.Join(' ', args)}: {error}");
        string line = error.Trim().Split('\n')[^1];
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain("One or more errors", line);
        Assert.DoesNotContain("   at ", error);
        foreach (string mention in mentions) Assert.Contains(mention, line);
        return line;
    }

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo(Faceforge) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // One libtorch thread: these children are killed and raced, not timed, and OpenMP's threads spin badly on a
        // busy machine (a 60-step run of the kill test took 16 s with one thread and 195 s with two, load 16).
        start.Environment["OMP_NUM_THREADS"] = "1";
        return Process.Start(start)!;
    }

    private static (int Code, string Error) Finish(Process process)
    {
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(300_000), "child did not finish");
        return (process.ExitCode, error.Result);
    }

    // 1. Two trainers into one folder: one trains, the other is refused; the run stays resumable.
    [Fact]
    public void TwoTrainersRacingOnOneFolderLeaveOneRunIntact()
    {
        string run = Path.Combine(TestPaths.NewTempDirectory("race"), "run");
        string[] args = ["train", "--data", data.Root, "--arch", "mobilefacenet", "--width", "0.125", "--embedding-size", "32", "--out", run,
            "--max-steps", "30", "--batch-size", "8", "--log-every", "1", "--checkpoint-every", "5", "--workers", "1"];
        using var first = Start(args);
        using var second = Start(args);
        var results = new[] { Finish(first), Finish(second) };
        Assert.Equal(1, results.Count(r => r.Code == 0));
        var loser = results.Single(r => r.Code != 0);
        Assert.Equal(2, loser.Code);
        Assert.Matches("in use by process|holds a (finished|started) run", loser.Error);
        var steps = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(1, 30), steps);
        Assert.True(File.Exists(Path.Combine(run, "finished.json")));
        Assert.False(File.Exists(Path.Combine(run, "run.lock")));
    }

    // Kill -9 at random moments of a run that checkpoints every step (so many kills land in a checkpoint write), then
    // resume: the run ends exactly where an uninterrupted one does.
    [Fact]
    public void TrainingKilledAtRandomMomentsResumesToTheUninterruptedResult()
    {
        string dir = TestPaths.NewTempDirectory("train-kill");
        string[] common = ["--data", data.Root, "--arch", "mobilefacenet", "--width", "0.125", "--embedding-size", "32", "--max-steps", "60", "--batch-size", "8",
            "--checkpoint-every", "1", "--log-every", "1", "--workers", "1", "--seed", "4"];
        string straight = Path.Combine(dir, "straight"), killed = Path.Combine(dir, "killed");
        // Every run here is a child with one libtorch thread: the thread count changes the arithmetic.
        using (var run = Start(["train", .. common, "--out", straight])) Assert.Equal(0, Finish(run).Code);
        var random = new Random(11);
        int interrupted = 0;
        // Until a first checkpoint exists, a kill leaves nothing to resume (the run says so): start afresh then.
        bool Resumable() => Directory.Exists(Path.Combine(killed, "checkpoints")) && Directory.GetFiles(Path.Combine(killed, "checkpoints"), "step_*.ckpt").Length > 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            using var child = Resumable() ? Start("train", "--resume", killed) : Start(["train", .. common, "--out", killed, "--force"]);
            Thread.Sleep(random.Next(1500, 3500)); // a 60-step run takes about 6 s here, its start about 1 s
            try { child.Kill(); } catch (InvalidOperationException) { /* it had finished */ }
            child.WaitForExit();
            if (!File.Exists(Path.Combine(killed, "finished.json"))) interrupted++;
        }
        Assert.True(interrupted > 0, "no kill landed before the run finished: the test proves nothing");
        if (!File.Exists(Path.Combine(killed, "finished.json")))
        {
            // On a loaded machine the last kill may land after the first metrics line but before the first checkpoint.
            using var last = Resumable() ? Start("train", "--resume", killed) : Start(["train", .. common, "--out", killed, "--force"]);
            var (code, error) = Finish(last);
            Assert.True(code == 0, error);
        }
        double Final(string run) => JsonDocument.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Last()).RootElement.GetProperty("loss").GetDouble();
        Assert.Equal(Enumerable.Range(1, 60), File.ReadAllLines(Path.Combine(killed, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()));
        Assert.Equal(Final(straight), Final(killed), 4);
        Assert.Empty(Directory.GetFiles(Path.Combine(killed, "checkpoints"), ".*.tmp"));
    }

    // 2. data pack killed at random moments over an existing pack: a reader sees the old pair or the new one.
    [Fact]
    public void PackKilledAtRandomMomentsLeavesTheOldOrTheNewPair()
    {
        string dir = TestPaths.NewTempDirectory("pack-kill");
        // 400 copies of one 700x700 noise PNG: packing decodes each (about 10 ms), so a pack takes seconds and the kills
        // land inside it, some in the commit.
        string big = Path.Combine(dir, "big");
        var noise = new Imaging.RgbImage(700, 700);
        new Random(5).NextBytes(noise.Pixels);
        string source = Path.Combine(dir, "noise.png");
        Imaging.ImageEncoder.Save(noise, source);
        for (int id = 0; id < 40; id++)
        {
            Directory.CreateDirectory(Path.Combine(big, $"id_{id:D2}"));
            for (int i = 0; i < 10; i++) File.Copy(source, Path.Combine(big, $"id_{id:D2}", $"{i}.png"));
        }
        string prefix = Path.Combine(dir, "set");
        Assert.Equal(0, CliHarness.Run("data", "pack", "--images", data.Root, "--out", prefix).Code);
        int oldCount = data.Dataset.Count, newCount = 400;
        var random = new Random(7);
        var seen = new HashSet<int>();
        for (int attempt = 0; attempt < 6; attempt++)
        {
            using var pack = Start("data", "pack", "--images", big, "--out", prefix);
            // The first kill surely lands inside the first pack (it takes seconds); the others anywhere.
            Thread.Sleep(attempt == 0 ? 900 : random.Next(300, 3000));
            try { pack.Kill(); } catch (InvalidOperationException) { /* it had finished */ }
            pack.WaitForExit();
            using var set = RecordIoDataset.Open(prefix);
            Assert.Contains(set.Count, new[] { oldCount, newCount });
            seen.Add(set.Count);
            set.ReadEncoded(set.Count - 1); // the last image reads whole
        }
        Assert.Contains(oldCount, seen); // some kill landed before a pack finished
        Assert.Equal(0, CliHarness.Run("data", "pack", "--images", big, "--out", prefix).Code);
        using (var done = RecordIoDataset.Open(prefix)) Assert.Equal(newCount, done.Count);
        Assert.Empty(Directory.GetFiles(dir, "set.*.tmp"));
    }

    [Fact]
    public void AnInterruptedCommitIsFinishedAndAMismatchedPairIsNamed()
    {
        string dir = TestPaths.NewTempDirectory("pack-journal");
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b");
        Assert.Equal(0, CliHarness.Run("data", "pack", "--images", data.Root, "--out", a).Code);
        new SyntheticFaces(new SyntheticFaceOptions { Identities = 3, ImagesPerIdentity = 2, Size = 56, Seed = 9 }).WriteRecognitionSet(Path.Combine(dir, "small"), threads: 1);
        Assert.Equal(0, CliHarness.Run("data", "pack", "--images", Path.Combine(dir, "small"), "--out", b).Code);

        // As a kill right after the journal leaves it: the new files still temporary, the journal naming them.
        File.Move(b + ".rec", a + ".rec.4242.tmp");
        File.Move(b + ".idx", a + ".idx.4242.tmp");
        File.WriteAllText(a + ".commit", "a.rec.4242.tmp\na.idx.4242.tmp\n");
        using (var set = RecordIoDataset.Open(a)) Assert.Equal(6, set.Count);
        Assert.False(File.Exists(a + ".commit"));

        // An index of another pack beside this .rec.
        Assert.Equal(0, CliHarness.Run("data", "pack", "--images", data.Root, "--out", b).Code);
        File.Copy(b + ".idx", a + ".idx", overwrite: true);
        UserError(["data", "info", a + ".rec", "--json"], "does not match", "a.rec");
    }

    // 3. Landmarks that cannot be a face.
    [Theory]
    [InlineData("1e30", "not a pixel position")]
    [InlineData("1e10", "not a pixel position")]
    [InlineData("same", "less than a pixel apart")]
    [InlineData("far", "far outside")]
    public void ImpossibleLandmarksNameTheFileOrImage(string kind, string message)
    {
        string dir = TestPaths.NewTempDirectory("landmarks");
        string name = data.Dataset.RelativePath(0);
        string points = kind switch
        {
            "same" => string.Join(' ', Enumerable.Repeat("20 20", 5)),
            "far" => "20000 20 20040 20 20020 40 20005 50 20035 50",
            _ => $"{kind} 20 40 20 30 30 22 40 38 40",
        };
        File.WriteAllText(Path.Combine(dir, "landmarks.txt"), $"{name} {points}\n");
        string line = UserError(["embed", "--model", TestModels.Random(dir), Image(0), "--landmarks", Path.Combine(dir, "landmarks.txt")], message);
        Assert.True(line.Contains("landmarks.txt:1", StringComparison.Ordinal) || line.Contains(Path.GetFileName(name), StringComparison.Ordinal), line);
    }

    [Fact]
    public void DuplicateLandmarkLinesAreRefused()
    {
        string dir = TestPaths.NewTempDirectory("landmarks-dup");
        string name = data.Dataset.RelativePath(0), points = "20 20 40 20 30 30 22 40 38 40";
        File.WriteAllText(Path.Combine(dir, "landmarks.txt"), $"{name} {points}\n{name} {points}\n");
        UserError(["embed", "--model", TestModels.Random(dir), Image(0), "--landmarks", Path.Combine(dir, "landmarks.txt")], "landmarks.txt:2", "listed again");
    }

    // 4. model import with a folder as output and impossible sizes.
    [SharedTheory("models/mobilefacenet-casia/068.ckpt")]
    [InlineData("folder")]
    [InlineData("--width=1e9")]
    [InlineData("--width=0")]
    [InlineData("--embedding-size=-5")]
    public void ModelImportRefusesBadTargetsAndSizes(string fault)
    {
        string dir = TestPaths.NewTempDirectory("import");
        string output = fault == "folder" ? dir : Path.Combine(dir, "m.ffm");
        var args = new List<string> { "model", "import", "--from", Path.Combine(TestPaths.Shared!, "models/mobilefacenet-casia/068.ckpt"), "--arch", "mobilefacenet-casia", "--out", output };
        if (fault.StartsWith("--", StringComparison.Ordinal)) args.AddRange(fault.Split('='));
        UserError([.. args], fault == "folder" ? "--out" : "--embedding-size/--width");
        Assert.False(File.Exists(Path.Combine(dir, "m.ffm")));
    }

    // 5. Hostile model files: every header field is checked before anything is allocated.
    public static TheoryData<string, string> HostileModels => new()
    {
        { "count", "tensors in" },
        { "length", "claims" },
        { "width-negative", "input size" },
        { "width-huge", "input size" },
        { "std-zero", "std must be positive" },
        { "shape", "bytes for shape" },
        { "nan", "tensor 'w' holds NaN or infinite values" },
        { "json-empty", "model.json: empty or cut short" },
        { "json-missing", "model.json: missing key(s) 'architecture'" },
        { "json-twice", "model.json: key 'embedding_size' appears twice" },
        { "tensor-twice", "tensor 'w' appears twice in the weights" },
    };

    [Theory]
    [MemberData(nameof(HostileModels))]
    public void HostileModelFilesAreRefusedWithTheirName(string fault, string message)
    {
        string dir = TestPaths.NewTempDirectory("hostile");
        string path = Path.Combine(dir, $"{fault}.ffm");
        var info = TestModels.Small with
        {
            InputWidth = fault switch { "width-negative" => -96, "width-huge" => 60000, _ => TestModels.Small.InputWidth },
            NormalizationStd = fault == "std-zero" ? 0 : TestModels.Small.NormalizationStd,
        };
        using (var stream = File.Create(path))
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create))
        {
            using (var json = new StreamWriter(zip.CreateEntry("model.json").Open()))
            {
                string text = JsonSerializer.Serialize(info, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
                var node = System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
                node.Remove("architecture");
                json.Write(fault switch { "json-empty" => "", "json-missing" => node.ToJsonString(), "json-twice" => "{\"embedding_size\": 5," + text.TrimStart()[1..], _ => text });
            }
            using var weights = new BinaryWriter(zip.CreateEntry("weights.bin").Open());
            weights.Write(fault switch { "count" => 0x7FFFFFFF, "tensor-twice" => 2, _ => 1 });
            for (int copy = 0; copy < (fault == "tensor-twice" ? 2 : 1); copy++)
            {
                weights.Write("w");
                weights.Write((byte)0);
                weights.Write((byte)1);
                weights.Write(fault == "shape" ? 3L : 2L);
                weights.Write(fault == "length" ? 1L << 40 : 8L);
                weights.Write(fault == "nan" ? [.. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(float.NaN)] : new byte[8]);
            }
        }
        UserError(["embed", "--model", path, Image(0)], $"{fault}.ffm", message);
    }

    // 7. A read-only folder and a full disk: one line naming the path; what was written survives.
    [MountFact]
    public void ReadOnlyFolderAndFullDiskAreOneLineErrors()
    {
        string mount = TestPaths.NewTempDirectory("small-disk");
        Assert.True(Mount(mount, "size=1200k"));
        try
        {
            string run = Path.Combine(mount, "run");
            string[] train = ["train", "--data", data.Root, "--arch", "mobilefacenet", "--width", "0.125", "--embedding-size", "32", "--out", run,
                "--max-steps", "4", "--batch-size", "8", "--checkpoint-every", "1"];
            // A checkpoint of this model is about 810 KB: the second does not fit next to the first.
            UserError(train, "No space left", mount);
            var kept = Directory.GetFiles(Path.Combine(run, "checkpoints"), "step_*.ckpt");
            Assert.NotEmpty(kept);
            Assert.Empty(Directory.GetFiles(Path.Combine(run, "checkpoints"), ".*.tmp"));

            Assert.True(Remount(mount, "ro"));
            UserError(["data", "pack", "--images", data.Root, "--out", Path.Combine(mount, "set")], "Read-only file system", mount);
            Assert.All(kept, file => Assert.True(File.Exists(file)));
        }
        finally
        {
            Unmount(mount);
        }
    }

    // 7b. Replacing data on a full disk keeps the old data; a read-only gallery is a one-line error naming it.
    [MountFact]
    public void ReplacingOnAFullDiskKeepsTheOldDataAndNoLockOrTemporaryIsLeft()
    {
        string mount = TestPaths.NewTempDirectory("replace-disk"), model = TestModels.Random(TestPaths.NewTempDirectory("replace-model"));
        Assert.True(Mount(mount, "size=600k"));
        try
        {
            string set = Path.Combine(mount, "syn"), gallery = Path.Combine(mount, "g.gallery");
            var ok = CliHarness.Run("data", "synth", "--out", set, "--identities", "2", "--images", "2", "--size", "64");
            Assert.True(ok.Code == 0, ok.Error);
            ok = CliHarness.Run("gallery", "create", gallery, "--model", model);
            Assert.True(ok.Code == 0, ok.Error);
            Dictionary<string, string> Snapshot() => Directory.GetFiles(mount, "*", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(mount, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
            var before = Snapshot();
            // The new set does not fit beside the old one: refused, and the old set is untouched (it used to be deleted first).
            UserError(["data", "synth", "--out", set, "--identities", "40", "--images", "8", "--size", "64", "--force"], "No space left");
            Assert.Equal(before, Snapshot());
            Assert.Empty(Directory.GetDirectories(set, ".*"));

            // A full disk takes a lock file's inode but not its pid: no empty lock may stay behind.
            string filler = FillDisk(mount);
            UserError(["data", "pack", "--images", data.Root, "--out", Path.Combine(mount, "pk")], "No space left");
            Assert.Empty(Directory.GetFiles(mount, "*.lock"));
            File.Delete(filler);

            Assert.True(Remount(mount, "ro"));
            UserError(["data", "synth", "--out", set, "--identities", "2", "--images", "2", "--size", "64", "--force"], "Read-only file system");
            UserError(["gallery", "create", gallery, "--model", model, "--force"], $"{gallery}: cannot be");
            UserError(["gallery", "calibrate", gallery, "--threshold", "0.5"], $"{gallery}: cannot be written");
            Assert.Equal(before, Snapshot());
        }
        finally
        {
            Unmount(mount);
        }
    }

    // 8. A truncated newest checkpoint: named, set aside, and the run resumes from the one before.
    [Fact]
    public void TruncatedNewestCheckpointIsNamedAndTheRunResumesFromTheOneBefore()
    {
        string run = Path.Combine(TestPaths.NewTempDirectory("truncated"), "run");
        var first = CliHarness.Run("train", "--data", data.Root, "--arch", "mobilefacenet", "--width", "0.125", "--embedding-size", "32", "--out", run,
            "--max-steps", "3", "--batch-size", "8", "--checkpoint-every", "2", "--log-every", "1");
        Assert.True(first.Code == 0, first.Error);
        string newest = Path.Combine(run, "checkpoints", "step_00000003.ckpt");
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, bytes[..(bytes.Length / 2)]);
        File.WriteAllText(Path.Combine(run, "checkpoints", ".step_00000004.ckpt.99.tmp"), "half");
        var (code, _, error) = CliHarness.Run("train", "--resume", run, "--max-steps", "4");
        Assert.True(code == 0, error);
        Assert.Contains("step_00000003.ckpt is damaged", error);
        Assert.True(File.Exists(newest + ".damaged"));
        Assert.Empty(Directory.GetFiles(Path.Combine(run, "checkpoints"), ".*.tmp"));
        Assert.Equal([1, 2, 3, 4], File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()));
    }

    // Accepted silently before: each is now an error naming the option, or documented behaviour.
    public static TheoryData<string, string> BadTrainOptions => new()
    {
        { "--max-steps=-5", "--max-steps" },
        { "--embedding-size=-1", "--embedding-size" },
        { "--checkpoint-every=-1", "--checkpoint-every" },
        { "--margin=10", "--margin" },
        { "--width=0", "--width" },
        { "--lr=NaN", "--lr" },
        { "--epochs=ten", "--epochs" },
        { "--fc-dtype=fp8", "--fc-dtype" },
    };

    [Theory]
    [MemberData(nameof(BadTrainOptions))]
    public void BadTrainingValuesNameTheOption(string option, string named)
    {
        string run = Path.Combine(TestPaths.NewTempDirectory("bad-option"), "run");
        UserError(["train", "--data", data.Root, "--arch", "mobilefacenet", "--out", run, .. option.Split('=', 2)], named);
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoints")));
    }

    [Theory]
    [InlineData("train --modle x", "'--modle'")]
    [InlineData("eval verify --model", "'--model'")]
    [InlineData("detect --model m --confidence abc x.jpg", "'--confidence' as a number")]
    [InlineData("eval verify --model m --flip X", "'--flip' as one of None, Add, Concatenate")]
    [InlineData("train --out r --distributed foo", "--distributed: Argument 'foo' not recognized. Must be one of: 'none' 'mpi'")]
    [InlineData("trian --data d", "'trian'. Did you mean 'train'?")]
    public void ParseErrorsAreOneLineWithoutTypeNames(string command, string mention)
    {
        string line = UserError(command.Split(' '), mention, "--help");
        Assert.DoesNotContain("System.", line);
    }

    [Fact]
    public void DuplicateConfigKeysAreRefused()
    {
        string dir = TestPaths.NewTempDirectory("dup-config");
        File.WriteAllText(Path.Combine(dir, "c.json"), "{\"epochs\": 3, \"epochs\": 4}");
        string line = UserError(["train", "--config", Path.Combine(dir, "c.json"), "--data", data.Root, "--out", Path.Combine(dir, "run")], "c.json", "key 'epochs' appears twice");
        Assert.DoesNotContain("FaceForge.Training", line);
    }

    [Fact]
    public void OtherSilentAcceptancesAreErrors()
    {
        string dir = TestPaths.NewTempDirectory("silent");
        string model = TestModels.Random(dir);
        var tiny = new Imaging.RgbImage(1, 1);
        Imaging.ImageEncoder.Save(tiny, Path.Combine(dir, "tiny.png"));
        UserError(["embed", "--model", model, Path.Combine(dir, "tiny.png")], "tiny.png", "too small");
        UserError(["verify", "--model", model, Image(0), Image(1), "--threshold", "NaN"], "--threshold");

        // A single fold would choose its threshold on its own test pairs.
        string pairs = Path.Combine(dir, "pairs.txt");
        string a = data.Dataset.IdentityNames[0], b = data.Dataset.IdentityNames[1];
        File.WriteAllText(pairs, $"2\t1\n{a}\t1\t2\n{a}\t1\t{b}\t1\n{b}\t1\t2\n{b}\t1\t{a}\t2\n");
        UserError(["eval", "verify", "--model", model, "--images", data.Root, "--pairs", pairs, "--folds", "1"], "two folds");
    }

    [SharedFact("models/retinaface-mnet025/mobilenet0.25_Final.pth")]
    public void NanDetectorThresholdsAreRefused()
    {
        string dir = TestPaths.NewTempDirectory("nan-det");
        string model = Path.Combine(dir, "det.ffm");
        Assert.Equal(0, CliHarness.Run("model", "import", "--from", Path.Combine(TestPaths.Shared!, "models/retinaface-mnet025/mobilenet0.25_Final.pth"), "--arch", "retinaface-mnet025", "--out", model).Code);
        UserError(["detect", "--model", model, Image(0), "--confidence", "NaN"], "--confidence: NaN is not a score");
        UserError(["detect", "--model", model, Image(0), "--nms", "NaN"], "--nms: NaN is not an overlap");
    }

    [Fact]
    public void UnreadableNamesAndEmptyFoldersAreSkippedAndCounted()
    {
        string root = TestPaths.NewTempDirectory("names");
        foreach (string id in new[] { "alice", "bob" })
        {
            Directory.CreateDirectory(Path.Combine(root, id));
            for (int i = 0; i < 2; i++) File.Copy(Image(i), Path.Combine(root, id, $"{i}.png"));
        }
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        // A folder whose name is not valid UTF-8 (made through its raw bytes).
        Assert.True(MakeDirectory(Encoding.UTF8.GetBytes(root + "/caf").Concat(new byte[] { 0xE9 }).ToArray()));
        var (code, output, error) = CliHarness.Run("data", "info", root, "--skip-bad", "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, json.GetProperty("identities").GetInt32());
        Assert.Equal(2, json.GetProperty("bad").GetInt32());
        Assert.Equal(2, json.GetProperty("bad_items").GetArrayLength());
        // Without skip_bad either is an error naming the folder.
        UserError(["data", "info", root, "--json"], root, "skip_bad");
    }

    [Fact]
    public void AnErrorInsideParallelDecodingNamesTheImage()
    {
        string dir = TestPaths.NewTempDirectory("parallel-error");
        foreach (string id in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(dir, id));
            for (int i = 1; i <= 3; i++) File.Copy(Image(i), Path.Combine(dir, id, $"{id}_{i:D4}.jpg"));
        }
        File.WriteAllText(Path.Combine(dir, "b", "b_0003.jpg"), "not an image");
        string pairs = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(pairs, "2\t2\na\t1\t2\nb\t1\t2\na\t1\tb\t1\na\t2\tb\t2\n" + "a\t1\t3\nb\t2\t3\na\t3\tb\t3\na\t1\tb\t2\n");
        UserError(["eval", "verify", "--model", TestModels.Random(dir), "--images", dir, "--pairs", pairs], "b_0003.jpg");
        UserError(["eval", "verify", "--model", TestModels.Random(dir), "--images", dir, "--pairs", pairs, "--no-brighten"], "--no-brighten goes with --detector");
    }

    // Found by the new-user attack (docs/reliability.md, second table): writes that would have overwritten or mixed data.
    [Fact]
    public void NothingExistingIsOverwrittenUnasked()
    {
        string dir = TestPaths.NewTempDirectory("unasked");
        // A folder with a person's model in it is not a run folder.
        string models = Path.Combine(dir, "models");
        Directory.CreateDirectory(models);
        File.WriteAllText(Path.Combine(models, "model.ffm"), "mine");
        UserError(["train", "--data", data.Root, "--arch", "mobilefacenet", "--width", "0.125", "--out", models, "--max-steps", "1", "--batch-size", "8"], "model.ffm", "--force");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(models, "model.ffm")));
        // A file is not a run folder.
        File.WriteAllText(Path.Combine(dir, "file"), "x");
        UserError(["train", "--data", data.Root, "--arch", "mobilefacenet", "--out", Path.Combine(dir, "file"), "--max-steps", "1"], "is a file");

        // A run whose checkpoints are gone cannot be resumed into a silent restart.
        string run = Path.Combine(dir, "run");
        Assert.Equal(0, CliHarness.Run("train", "--data", data.Root, "--arch", "mobilefacenet", "--width", "0.125", "--embedding-size", "32", "--out", run, "--max-steps", "2", "--batch-size", "8", "--log-every", "1").Code);
        Directory.Delete(Path.Combine(run, "checkpoints"), recursive: true);
        string metrics = File.ReadAllText(Path.Combine(run, "metrics.jsonl"));
        byte[] model = File.ReadAllBytes(Path.Combine(run, "model.ffm"));
        UserError(["train", "--resume", run, "--max-steps", "3"], "no checkpoint to resume from", "--force"); // a finished run
        File.Delete(Path.Combine(run, "finished.json"));
        UserError(["train", "--resume", run, "--max-steps", "3"], "no checkpoint to resume from", "--force"); // a started one
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(run, "model.ffm")));
        UserError(["train", "--resume", run, "--out", Path.Combine(dir, "other")], "--out cannot be given with --resume");

        // data synth into an existing set, split-lfw into a filled folder, a pack held by a live process.
        string synth = Path.Combine(dir, "synth");
        Assert.Equal(0, CliHarness.Run("data", "synth", "--out", synth, "--identities", "3", "--images", "2", "--size", "56").Code);
        UserError(["data", "synth", "--out", synth, "--identities", "2", "--images", "2", "--size", "56"], "already holds data", "--force");
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(synth, "faces")).Length);
        Assert.Equal(0, CliHarness.Run("data", "synth", "--out", synth, "--identities", "2", "--images", "2", "--size", "56", "--force").Code);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(synth, "faces")).Length);
        string prefix = Path.Combine(dir, "held");
        using (OwnerLock.Acquire(prefix + ".pack.lock"))
            UserError(["data", "pack", "--images", data.Root, "--out", prefix], $"held by process {Environment.ProcessId}");
        Assert.Equal(0, CliHarness.Run("data", "pack", "--images", data.Root, "--out", prefix).Code); // released: packs
        Directory.CreateDirectory(Path.Combine(dir, "folder.rec"));
        UserError(["data", "pack", "--images", data.Root, "--out", Path.Combine(dir, "folder")], "folder.rec", "is a folder");
    }

    public static TheoryData<string, string> MoreBadInputs => new()
    {
        { "config-unknown", "unknown key 'bogus_key'" },
        { "config-type", "key 'epochs' must be a whole number" },
        { "milestones", "increasing order" },
        { "label-nan", "label.txt:2" },
        { "label-empty", "annotates no images" },
        { "idx-empty", "indexes no record" },
        { "draw-file", "--draw" },
        { "draw-size", "--draw-size" },
        { "limit", "--limit" },
    };

    [Theory]
    [MemberData(nameof(MoreBadInputs))]
    public void MoreBadInputsAreOneLineErrors(string fault, string message)
    {
        string dir = TestPaths.NewTempDirectory("more-bad");
        string run = Path.Combine(dir, "run");
        string config = Path.Combine(dir, "c.json");
        string[] args;
        switch (fault)
        {
            case "config-unknown":
            case "config-type":
                File.WriteAllText(config, fault == "config-unknown" ? "{\"bogus_key\": 1}" : "{\"epochs\": \"ten\"}");
                args = ["train", "--config", config, "--data", data.Root, "--out", run];
                break;
            case "milestones":
                args = ["train", "--data", data.Root, "--out", run, "--schedule", "multi-step", "--milestones", "5,2"];
                break;
            case "label-nan":
            case "label-empty":
                File.WriteAllText(Path.Combine(dir, "label.txt"), fault == "label-nan" ? $"# {Path.GetFileName(Image(0))}\n1 2 NaN 10\n" : "");
                File.Copy(Image(0), Path.Combine(dir, Path.GetFileName(Image(0))));
                args = ["eval", "detect", "--model", "none.onnx", "--images", dir, "--annotations", Path.Combine(dir, "label.txt")];
                break;
            case "idx-empty":
                Assert.Equal(0, CliHarness.Run("data", "pack", "--images", data.Root, "--out", Path.Combine(dir, "p")).Code);
                File.WriteAllText(Path.Combine(dir, "p.idx"), "");
                args = ["data", "info", Path.Combine(dir, "p.rec")];
                break;
            case "draw-file":
            case "draw-size":
                File.WriteAllText(Path.Combine(dir, "drawn"), "x");
                args = ["detect", "--model", Path.Combine(TestPaths.RepositoryRoot, "README.md"), Image(0), "--draw", fault == "draw-file" ? Path.Combine(dir, "drawn") : dir, "--draw-size", fault == "draw-size" ? "-5" : "100"];
                break;
            default:
                File.WriteAllText(Path.Combine(dir, "lm.txt"), $"{Path.GetFileName(Image(0))} 20 20 40 20 30 30 22 40 38 40\n");
                args = ["eval", "landmarks", "--model", "x.onnx", "--images", dir, "--landmarks", Path.Combine(dir, "lm.txt"), "--limit", "0"];
                break;
        }
        string line = UserError(args, message);
        Assert.DoesNotContain(".NET", line);
        Assert.DoesNotContain("System.", line);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int mkdir(byte[] path, uint mode);

    private static bool MakeDirectory(byte[] path) => mkdir([.. path, 0], 0x1ED) == 0;

    internal static bool Mount(string target, string options) => Run("mount", "-t", "tmpfs", "-o", options, "tmpfs", target);

    private static bool Remount(string target, string options) => Run("mount", "-o", $"remount,{options}", target);

    internal static void Unmount(string target) => Run("umount", target);

    /// <summary>Writes a file into <paramref name="mount"/> until its disk is full (writes run up to the last byte); returns its path.</summary>
    internal static string FillDisk(string mount)
    {
        string path = Path.Combine(mount, "filler");
        try
        {
            using var filler = File.Create(path);
            while (true) filler.Write(new byte[64 * 1024]);
        }
        catch (IOException)
        {
        }
        return path;
    }

    private static bool Run(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string arg in args) start.ArgumentList.Add(arg);
            using var process = Process.Start(start)!;
            process.WaitForExit(30_000);
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
