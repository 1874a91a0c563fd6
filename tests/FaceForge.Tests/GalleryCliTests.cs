using System.Diagnostics;
using System.Text.Json;
using FaceForge.Gallery;
using FaceForge.Models;
using FaceForge.Training.Backbones;
using FaceForge.Training.Weights;
using Microsoft.Data.Sqlite;
using Xunit;

namespace FaceForge.Tests;

/// <summary>`faceforge gallery` end to end on small data, the kill -9 durability test, and a real model on LFW photos.</summary>
public class GalleryCliTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{
    private static string Faceforge => Path.Combine(AppContext.BaseDirectory, "faceforge");

    private static (int Code, string Output, string Error) Ok(params string[] args)
    {
        var result = CliHarness.Run(args);
        Assert.True(result.Code == 0, $"exit {result.Code} for {string.Join(' ', args)}: {result.Error}");
        return result;
    }

    /// <summary>Asserts exit 2 with one error line containing each of <paramref name="mentions"/> and no stack trace.</summary>
    private static string UserError(string[] args, params string[] mentions)
    {
        var (code, _, error) = CliHarness.Run(args);
        Assert.True(code == 2, $"exit {code} for {string.Join(' ', args)}: {error}");
        string line = error.Trim().Split('\n')[^1];
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain("   at ", error);
        foreach (string mention in mentions) Assert.Contains(mention, line);
        return line;
    }

    /// <summary>A small random model (like <see cref="TestModels.Random"/>) with other weights, size or quality.</summary>
    private static string RandomModel(string dir, string name, int seed, int embeddingSize = 32, QualityKind quality = QualityKind.None)
    {
        string path = Path.Combine(dir, name);
        TorchSharp.torch.manual_seed(seed);
        var info = TestModels.Small with { EmbeddingSize = embeddingSize, Quality = quality };
        using var network = BackboneCatalog.Create(info);
        ModelFile.Save(path, info, StateDict.Export(network));
        return path;
    }

    private string Image(int index) => Path.Combine(data.Root, data.Dataset.RelativePath(index));

    private string Identity(int index) => data.Dataset.IdentityNames[data.Dataset.GetLabel(index)];

    [Fact]
    public void CommandsCreateEnrolIdentifyListRemoveStatsAndExport()
    {
        string dir = TestPaths.NewTempDirectory("gallery-cli");
        string model = TestModels.Random(dir);
        string gallery = Path.Combine(dir, "faces.gallery");
        var created = JsonDocument.Parse(Ok("gallery", "create", gallery, "--model", model, "--json").Output).RootElement;
        Assert.Equal(0, created.GetProperty("faces").GetInt32());
        UserError(["gallery", "create", gallery, "--model", model], gallery, "--force");
        UserError(["gallery", "create", Image(0), "--model", model], Image(0), "is not a gallery");

        var enrolled = JsonDocument.Parse(Ok("gallery", "enroll", gallery, "--folder", data.Root, "--json").Output).RootElement;
        Assert.Equal(data.Dataset.Count, enrolled.GetProperty("enrolled").GetInt32());
        Assert.Equal(0, enrolled.GetProperty("skipped").GetArrayLength());
        // The same folder again (as after adding photos to it): the faces already there are skipped, not doubled.
        var again = JsonDocument.Parse(Ok("gallery", "enroll", gallery, "--folder", data.Root, "--json").Output).RootElement;
        Assert.Equal(0, again.GetProperty("enrolled").GetInt32());
        Assert.Equal(data.Dataset.Count, again.GetProperty("skipped").GetArrayLength());
        Assert.Contains("already holds this face", again.GetProperty("skipped")[0].GetProperty("reason").GetString());
        Assert.Equal(data.Dataset.Count, again.GetProperty("faces").GetInt32());
        // Another subject may hold the same photo (a different claim, not a repeat).
        Ok("gallery", "enroll", gallery, "--subject", "extra", Image(0), Image(1), "--meta", "name=Ada Lovelace", "--meta", "team=x");
        // The same id again adds templates; a photo given twice is stored once.
        var twice = JsonDocument.Parse(Ok("gallery", "enroll", gallery, "--subject", "extra", Image(2), Image(2), "--json").Output).RootElement;
        Assert.Equal(1, twice.GetProperty("enrolled").GetInt32());
        Assert.Contains("the same face as", twice.GetProperty("skipped")[0].GetProperty("reason").GetString());
        // Image(0) is held by its own identity and by 'extra' (the two tie at cosine 1): 'extra' still sees its copy.
        var repeat = JsonDocument.Parse(Ok("gallery", "enroll", gallery, "--subject", "extra", Image(0), "--json").Output).RootElement;
        Assert.Equal(0, repeat.GetProperty("enrolled").GetInt32());
        var list = JsonDocument.Parse(Ok("gallery", "list", gallery, "--json").Output).RootElement.EnumerateArray().ToList();
        var extra = list.Single(s => s.GetProperty("id").GetString() == "extra");
        Assert.Equal(3, extra.GetProperty("faces").GetInt32());
        Assert.Equal("Ada Lovelace", extra.GetProperty("metadata").GetProperty("name").GetString());
        Assert.Equal(data.Dataset.IdentityNames.Count + 1, list.Count);

        // An enrolled image finds its own identity (the same crop: cosine 1), here tied with 'extra' for Image(0).
        int probe = data.Dataset.Count - 1;
        var answer = JsonDocument.Parse(Ok("gallery", "identify", gallery, Image(probe), "--top-k", "3", "--json").Output).RootElement;
        var face = answer.GetProperty("images")[0].GetProperty("faces")[0];
        Assert.Equal(Identity(probe), face.GetProperty("best").GetString());
        Assert.Equal(1.0, face.GetProperty("score").GetDouble(), 3);
        Assert.Equal(3, face.GetProperty("matches").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, face.GetProperty("known").ValueKind);

        // Calibrating on fewer unknown faces than the rate can resolve is refused; the threshold stays unset.
        UserError(["gallery", "calibrate", gallery, Image(0), Image(1)], "FPIR 0.01 cannot be measured on 2 unknown probe(s)", "at least 100", "unchanged");
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(Ok("gallery", "identify", gallery, Image(probe), "--json").Output).RootElement
            .GetProperty("images")[0].GetProperty("faces")[0].GetProperty("known").ValueKind);
        Ok("gallery", "calibrate", gallery, "--threshold", "0.9");
        face = JsonDocument.Parse(Ok("gallery", "identify", gallery, Image(probe), "--json").Output).RootElement.GetProperty("images")[0].GetProperty("faces")[0];
        Assert.True(face.GetProperty("known").GetBoolean());

        var stats = JsonDocument.Parse(Ok("gallery", "stats", gallery, "--json").Output).RootElement;
        Assert.Equal(data.Dataset.Count + 3, stats.GetProperty("faces").GetInt32());
        Assert.Equal(data.Dataset.IdentityNames.Count + 1, stats.GetProperty("subjects").GetInt32());
        Assert.Equal(32, stats.GetProperty("embedding_size").GetInt32());
        Assert.Equal("exact", stats.GetProperty("index").GetString());
        Assert.Equal("sqlite", stats.GetProperty("store").GetProperty("kind").GetString());
        Assert.Equal(0.9, stats.GetProperty("threshold").GetDouble());
        Assert.Equal(TestModels.Small.Architecture, stats.GetProperty("model").GetProperty("architecture").GetString());
        Assert.Equal(ModelFingerprint.Of(model), stats.GetProperty("model").GetProperty("fingerprint").GetString());

        Assert.Equal(3, JsonDocument.Parse(Ok("gallery", "remove", gallery, "--subject", "extra", "--json").Output).RootElement.GetProperty("removed").GetInt32());
        UserError(["gallery", "remove", gallery, "--subject", "extra"], "extra");

        string export = Path.Combine(dir, "export.json");
        Ok("gallery", "export", gallery, "--out", export);
        var exported = JsonDocument.Parse(File.ReadAllText(export)).RootElement;
        Assert.Equal(data.Dataset.Count, exported.GetProperty("faces").GetArrayLength());
        Assert.Equal(32, exported.GetProperty("faces")[0].GetProperty("vector").GetArrayLength());
        // An existing file is replaced only with --force; the gallery itself never (it used to be overwritten with JSON).
        UserError(["gallery", "export", gallery, "--out", export], export, "--force");
        UserError(["gallery", "export", gallery, "--out", gallery, "--force"], "overwrite the gallery itself");
        Ok("gallery", "export", gallery, "--out", export, "--force");
        Assert.Equal(data.Dataset.Count, JsonDocument.Parse(Ok("gallery", "stats", gallery, "--json").Output).RootElement.GetProperty("faces").GetInt32());

        // --force replaces the gallery with an empty one.
        Ok("gallery", "create", gallery, "--model", model, "--force", "--precision", "float16");
        Assert.Equal(0, JsonDocument.Parse(Ok("gallery", "stats", gallery, "--json").Output).RootElement.GetProperty("faces").GetInt32());
    }

    [Fact]
    public async Task FolderEnrolmentRefusesWhatItCannotReadAndEnrolsTheRest()
    {
        string dir = TestPaths.NewTempDirectory("gallery-folder");
        string model = TestModels.Random(dir);
        string gallery = Path.Combine(dir, "faces.gallery");
        Ok("gallery", "create", gallery, "--model", model);
        // What a folder from a phone or a Mac holds besides good photos.
        string root = Path.Combine(dir, "people"), ada = Path.Combine(root, "ada"), bob = Path.Combine(root, "bob");
        Directory.CreateDirectory(ada);
        Directory.CreateDirectory(bob);
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        Directory.CreateDirectory(Path.Combine(root, "__MACOSX", "ada"));
        File.Copy(Image(0), Path.Combine(ada, "a1.png"));
        File.Copy(Image(1), Path.Combine(bob, "b1.png"));
        File.WriteAllBytes(Path.Combine(ada, "zero.jpg"), []);
        File.WriteAllBytes(Path.Combine(ada, "._a1.png"), [0, 5, 22, 7, 0, 2, 0, 0]);
        File.WriteAllBytes(Path.Combine(root, "__MACOSX", "ada", "._a1.png"), [0, 5, 22, 7]);
        File.WriteAllBytes(Path.Combine(bob, "IMG_0001.HEIC"), [0, 0, 0, 24, .. "ftypheic"u8, 0, 0, 0, 0]);
        // A named pipe with an image's name: opening it would wait for a writer for ever.
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(bob, "pipe.jpg"))) mkfifo.WaitForExit();

        var run = Task.Run(() => CliHarness.Run("gallery", "enroll", gallery, "--folder", root, "--json"));
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(3))) == run, "the enrolment hangs (on the named pipe?)");
        var (code, output, error) = await run;
        Assert.True(code == GalleryEnrollCommandExitCodes.SomeRefused, error);
        Assert.DoesNotContain("   at ", error);
        var result = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, result.GetProperty("enrolled").GetInt32());
        Assert.Equal(["ada", "bob"], result.GetProperty("subjects").EnumerateArray().Select(e => e.GetString()).Order());
        var refused = result.GetProperty("refused").EnumerateArray().ToDictionary(r => Path.GetFileName(r.GetProperty("image").GetString()!), r => r.GetProperty("reason").GetString()!);
        Assert.Equal(["IMG_0001.HEIC", "empty", "pipe.jpg", "zero.jpg"], refused.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("empty file", refused["zero.jpg"]);
        Assert.Contains("not a regular file", refused["pipe.jpg"]);
        Assert.Contains("HEIC", refused["IMG_0001.HEIC"]);
        Assert.Contains("no supported images", refused["empty"]);
        Assert.Contains("zero.jpg", error);

        // The decoder names the format it does not read.
        var heic = CliHarness.Run("embed", "--model", model, "--aligned", Path.Combine(bob, "IMG_0001.HEIC"));
        Assert.Equal(2, heic.Code);
        Assert.Contains("an image in HEIC/HEIF format, which FaceForge does not read", heic.Error);
    }

    [Fact]
    public void BadInputIsRefusedWithOneLineNamingWhatIsWrong()
    {
        string dir = TestPaths.NewTempDirectory("gallery-bad");
        string model = TestModels.Random(dir);
        string gallery = Path.Combine(dir, "faces.gallery");
        Ok("gallery", "create", gallery, "--model", model);

        // Another model's weights, or another embedding size: refused naming both models.
        string other = RandomModel(dir, "other.ffm", seed: 6);
        UserError(["gallery", "enroll", gallery, "--subject", "a", Image(0), "--model", other], model, other);
        string wide = RandomModel(dir, "wide.ffm", seed: 5, embeddingSize: 16);
        UserError(["gallery", "identify", gallery, Image(0), "--model", wide], "32-d", "16-d");
        // The same weights under another name are accepted.
        string copy = Path.Combine(dir, "copy.ffm");
        File.Copy(model, copy);
        Ok("gallery", "enroll", gallery, "--subject", "a", Image(0), "--model", copy);

        UserError(["gallery", "enroll", gallery, "--subject", "a", Image(0), "--min-quality", "1"], "--min-quality", "carries no quality");
        UserError(["gallery", "enroll", gallery, "--subject", "a", Path.Combine(dir, "missing.png")], "missing.png");
        UserError(["gallery", "enroll", gallery, Image(0)], "--subject", "--folder");
        // An option the command lacks, taken by the parser for an image; a detector for a gallery of crops; a folder as an image.
        UserError(["gallery", "identify", gallery, Image(0), "--bogus", "x"], "'--bogus' is not an option");
        UserError(["gallery", "identify", gallery, Image(0), "--detector", model], "--detector", "created without a detector");
        UserError(["gallery", "identify", gallery, dir], "is a folder");
        // A tab or line break in an id would forge rows of `gallery list`.
        UserError(["gallery", "enroll", gallery, "--subject", "evil\tname\nid_00001\t99", Image(0)], "control character");
        // "Ariel " would be a second subject that lists like "Ariel".
        UserError(["gallery", "enroll", gallery, "--subject", "Ariel ", Image(0)], "begins or ends with a space");
        UserError(["gallery", "create", Path.Combine(dir, "my.gallery"), "--model", model, "--store", "mysql://localhost/x"], "--store");
        UserError(["gallery", "create", "faces", "--model", model, "--store", "postgres://nobody@localhost:1/x"], "unreachable", "localhost:1");

        string garbage = Path.Combine(dir, "garbage.gallery");
        File.WriteAllText(garbage, "this is not a database, just text long enough to be read as one page header...........................");
        UserError(["gallery", "stats", garbage], garbage, "not a FaceForge gallery");
        UserError(["gallery", "list", Path.Combine(dir, "absent.gallery")], "absent.gallery");
    }

    [Fact]
    public void BenchGallerySweepsSearchBeamsOnOneGraph()
    {
        var (_, output, _) = Ok("bench", "gallery", "--faces", "3000", "--dim", "16", "--queries", "20", "--ef-search", "4,64", "--connectivity", "8",
            "--ef-add", "32", "--enroll-faces", "0", "--json");
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        var sweep = root.GetProperty("hnsw").EnumerateArray().ToList();
        Assert.Equal([4, 64], sweep.Select(r => r.GetProperty("ef_search").GetInt32()));
        Assert.All(sweep, r => Assert.InRange(r.GetProperty("recall_at1").GetDouble(), 0, 1));
        Assert.True(sweep[1].GetProperty("recall_at1").GetDouble() >= 0.9, output); // 16-d, beam 64: near exact
        var (code, _, error) = CliHarness.Run("bench", "gallery", "--faces", "100", "--ef-search", "8,zero");
        Assert.Equal(2, code);
        Assert.Contains("'zero' is not a whole number", error);
    }

    [Fact]
    public void BenchGalleryKeepsItsGraphInTheGraphFileAndLoadsItNextRun()
    {
        string graph = Path.Combine(TestPaths.NewTempDirectory("bench-graph"), "g.hnsw");
        string[] Args(int faces) => ["bench", "gallery", "--faces", faces.ToString(), "--dim", "16", "--queries", "20", "--ef-search", "64", "--connectivity", "8",
            "--enroll-faces", "0", "--graph-file", graph, "--json"];
        JsonElement Run(int faces)
        {
            var (_, output, _) = Ok(Args(faces));
            return JsonDocument.Parse(output).RootElement.Clone();
        }
        var first = Run(2000);
        Assert.Equal("built", first.GetProperty("hnsw_graph").GetString());
        Assert.True(first.GetProperty("hnsw_load_s").GetDouble() >= 0); // timed loading it back
        var second = Run(2000);
        Assert.Equal("loaded", second.GetProperty("hnsw_graph").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("hnsw_build_s").ValueKind);
        // The same graph: the same recall on the same probes.
        Assert.Equal(first.GetProperty("hnsw")[0].GetProperty("recall_at1").GetDouble(), second.GetProperty("hnsw")[0].GetProperty("recall_at1").GetDouble());
        Assert.Equal("built", Run(2500).GetProperty("hnsw_graph").GetString()); // other data: not that graph

        // A file that is not a graph this command saved (here a gallery) is never overwritten.
        string victim = Path.Combine(Path.GetDirectoryName(graph)!, "faces.gallery");
        File.WriteAllText(victim, "a user's file");
        var (code, _, error) = CliHarness.Run("bench", "gallery", "--faces", "100", "--dim", "16", "--queries", "5", "--enroll-faces", "0", "--graph-file", victim);
        Assert.Equal(2, code);
        Assert.Contains("is not a graph this command saved", error);
        Assert.Equal("a user's file", File.ReadAllText(victim));
        Assert.False(File.Exists(victim + ".json"));

        // A folder that does not exist is refused before the build, not found out after it.
        string lost = Path.Combine(Path.GetDirectoryName(graph)!, "no-such-folder", "g.hnsw");
        (code, _, error) = CliHarness.Run("bench", "gallery", "--faces", "100", "--dim", "16", "--queries", "5", "--enroll-faces", "0", "--graph-file", lost);
        Assert.Equal(2, code);
        Assert.Contains("does not exist", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void FacesBelowTheQualityThresholdAreRefused()
    {
        string dir = TestPaths.NewTempDirectory("gallery-quality");
        string model = RandomModel(dir, "mag.ffm", seed: 5, quality: QualityKind.Magnitude);
        string gallery = Path.Combine(dir, "faces.gallery");
        Ok("gallery", "create", gallery, "--model", model);
        var (code, output, error) = CliHarness.Run("gallery", "enroll", gallery, "--subject", "a", Image(0), Image(1), "--min-quality", "1e9", "--json");
        Assert.True(code == 3, error);
        Assert.Contains(Image(0), error);
        Assert.Contains("below --min-quality", error);
        Assert.Equal(0, JsonDocument.Parse(output).RootElement.GetProperty("enrolled").GetInt32());
        UserError(["gallery", "enroll", gallery, "--subject", "a", Image(0), "--min-quality", "1e9", "--strict"], "--strict", "nothing was enrolled");
        Ok("gallery", "enroll", gallery, "--subject", "a", Image(0), Image(1), "--min-quality", "0");
        Assert.Equal(2, JsonDocument.Parse(Ok("gallery", "stats", gallery, "--json").Output).RootElement.GetProperty("faces").GetInt32());
    }

    [Fact]
    public void KilledMidEnrolmentTheGalleryHoldsEveryCommittedFaceAndNothingHalfWritten()
    {
        const int total = 10_000, batch = 5, dim = 64, seed = 3;
        string gallery = Path.Combine(TestPaths.NewTempDirectory("gallery-kill"), "faces.gallery");
        var start = new ProcessStartInfo(Faceforge) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "gallery", "enroll-synthetic", gallery, "--faces", $"{total}", "--batch", $"{batch}", "--dim", $"{dim}", "--seed", $"{seed}" })
            start.ArgumentList.Add(arg);
        int printed = 0;
        var childErrors = new System.Text.StringBuilder();
        using (var child = Process.Start(start)!)
        {
            child.ErrorDataReceived += (_, e) => { lock (childErrors) childErrors.AppendLine(e.Data); };
            child.BeginErrorReadLine();
            while (child.StandardOutput.ReadLine() is { } line)
            {
                printed = int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (printed >= 1500) break;
            }
            child.Kill(); // SIGKILL on Linux: no finally blocks, no disposal, mid-transaction
            Assert.True(child.WaitForExit(60_000));
        }
        Assert.True(printed >= 1500, $"the child ended after reporting {printed} committed faces; its standard error: {childErrors.ToString().Trim()}");

        int rows;
        using (var connection = new SqliteConnection($"Data Source={gallery};Pooling=False"))
        {
            connection.Open();
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            // Opening replays (rolls back) the interrupted transaction's journal first.
            Assert.Equal("ok", check.ExecuteScalar());
            check.CommandText = "SELECT COUNT(*) FROM faces";
            rows = (int)(long)check.ExecuteScalar()!;
        }
        Assert.True(rows >= printed, $"{rows} rows but {printed} were reported committed");
        Assert.True(rows < total, $"the child finished ({rows} faces) before it was killed; the test proves nothing");
        Assert.Equal(0, rows % batch); // whole batches only

        using var reopened = FaceGallery.Open(gallery);
        Assert.Equal(rows, reopened.Count);
        Assert.Equal(rows, reopened.FaceIds().Count);
        using var store = SqliteGalleryStore.Open(gallery);
        var faces = store.ReadFaces().ToList();
        Assert.Equal(Enumerable.Range(0, rows).Select(i => $"synthetic:{i}"), faces.Select(f => f.Source));
        foreach (var (face, i) in faces.Select((f, i) => (f, i)))
        {
            Assert.Equal($"s{i / 4}", face.Subject);
            Assert.Equal(SyntheticEmbeddings.Vector(seed, i, dim), face.Vector);
        }
        using (var indexed = FaceGallery.Open(gallery, new GalleryOpenOptions { ForceHnsw = true, SaveHnswGraph = false }))
        {
            indexed.PrepareIndex();
            Assert.Equal(rows, indexed.HnswCount);
        }
        // Enrolment carries on from where it stopped.
        reopened.Enroll([new GalleryFace("after", SyntheticEmbeddings.Vector(seed, total, dim))]);
        Assert.Equal(rows + 1, reopened.Count);
    }

    [SharedFact("models/mobilefacenet-casia/068.ckpt")]
    public void RealModelOnLfwPhotosIdentifiesPeopleAndAppliesThePhotoRules()
    {
        TestPaths.SharedOrSkipMessage("models/yunet/face_detection_yunet.onnx", out var yunet);
        Assert.NotNull(yunet);
        string shared = TestPaths.Shared!;
        string dir = TestPaths.NewTempDirectory("gallery-lfw");
        string model = Path.Combine(dir, "mfn.ffm");
        Ok("model", "import", "--from", Path.Combine(shared, "models/mobilefacenet-casia/068.ckpt"), "--arch", "mobilefacenet-casia", "--out", model);
        string gallery = Path.Combine(dir, "lfw.gallery");
        string detector = Path.Combine(dir, "yunet.onnx");
        File.Copy(yunet!, detector);
        Ok("gallery", "create", gallery, "--model", model, "--detector", detector);
        string[] people = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld"];
        string Lfw(string person, int n) => Path.Combine(shared, "data/lfw/images", person, $"{person}_{n:0000}.jpg");
        foreach (string person in people) Ok("gallery", "enroll", gallery, "--subject", person, Lfw(person, 1), "--largest");

        var answer = JsonDocument.Parse(Ok(["gallery", "identify", gallery, .. people.Select(p => Lfw(p, 2)), "--json"]).Output).RootElement;
        var images = answer.GetProperty("images").EnumerateArray().ToList();
        for (int i = 0; i < people.Length; i++)
        {
            var faces = images[i].GetProperty("faces").EnumerateArray().ToList();
            Assert.NotEmpty(faces);
            var central = faces.MaxBy(f => (f.GetProperty("box")[2].GetDouble() - f.GetProperty("box")[0].GetDouble()) * (f.GetProperty("box")[3].GetDouble() - f.GetProperty("box")[1].GetDouble()))!;
            Assert.Equal(people[i], central.GetProperty("best").GetString());
        }

        // The recorded detector moved: named with the way out, and --detector takes its place.
        File.Delete(detector);
        UserError(["gallery", "identify", gallery, Lfw(people[0], 2)], detector, "give --detector");
        var moved = JsonDocument.Parse(Ok("gallery", "identify", gallery, Lfw(people[0], 2), "--detector", yunet!, "--json").Output).RootElement;
        Assert.Equal(people[0], moved.GetProperty("images")[0].GetProperty("faces").EnumerateArray()
            .MaxBy(f => f.GetProperty("box")[2].GetDouble() - f.GetProperty("box")[0].GetDouble()).GetProperty("best").GetString());
        File.Copy(yunet!, detector);

        // A group photo: refused without --largest (naming the file and the count), enrolled with it.
        string group = Path.Combine(shared, "data/photos/sample1.jpg");
        var (code, _, error) = CliHarness.Run("gallery", "enroll", gallery, "--subject", "group", group);
        Assert.True(code == 3, error);
        Assert.Contains(group, error);
        Assert.Contains("faces found", error);
        Ok("gallery", "enroll", gallery, "--subject", "group", group, "--largest");
        var many = JsonDocument.Parse(Ok("gallery", "identify", gallery, group, "--json").Output).RootElement.GetProperty("images")[0].GetProperty("faces");
        Assert.True(many.GetArrayLength() >= 2, "every face of the group photo is identified");
        Assert.Equal(4, many[0].GetProperty("box").GetArrayLength());

        // A photo without a face is refused naming it.
        string blank = Path.Combine(dir, "blank.png");
        File.WriteAllBytes(blank, FaceForge.Imaging.ImageEncoder.EncodePng(new FaceForge.Imaging.RgbImage(200, 200)));
        (code, _, error) = CliHarness.Run("gallery", "enroll", gallery, "--subject", "nobody", blank);
        Assert.True(code == 3, error);
        Assert.Contains("blank.png", error);
        Assert.Contains("no face", error);
        // Identifying it answers "no face" with exit 3, as detect, embed and verify do; the group photo beside it is still answered.
        string output;
        (code, output, error) = CliHarness.Run("gallery", "identify", gallery, blank, group);
        Assert.True(code == 3, error);
        Assert.Contains($"{blank}\tno face", output);
        Assert.Contains(group, output);
    }
}

internal static class GalleryEnrollCommandExitCodes
{
    public const int SomeRefused = FaceForge.Cli.Commands.GalleryEnrollCommand.SomeRefusedExitCode;
}
