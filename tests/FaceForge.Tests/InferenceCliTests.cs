using System.Text.Json;
using FaceForge.Cli;
using Xunit;

namespace FaceForge.Tests;

public class InferenceCliTests(SyntheticFolderFixture data) : IClassFixture<SyntheticFolderFixture>
{



    private string Image(int index) => Path.Combine(data.Root, data.Dataset.RelativePath(index));

    [Fact]
    public void EmbedGivesUnitVectors()
    {
        var result = CliHarness.Run("embed", "--model", TestModels.Random(), Image(0), Image(7), "--aligned", "--json");
        Assert.Equal(0, result.Code);
        var items = JsonDocument.Parse(result.Output).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        foreach (var item in items)
        {
            var v = item.GetProperty("embedding").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(32, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => x * x)), 4);
        }
    }

    [Fact]
    public void VerifyScoresAnImageAgainstItselfAsOne()
    {
        var result = CliHarness.Run("verify", "--model", TestModels.Random(), Image(3), Image(3), "--threshold", "0.5", "--aligned", "--json");
        Assert.Equal(0, result.Code);
        var json = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal(1.0, json.GetProperty("score").GetDouble(), 4);
        Assert.True(json.GetProperty("same").GetBoolean());
    }

    [Fact]
    public void IdentifyReportsRanks()
    {
        var result = CliHarness.Run("eval", "identify", "--model", TestModels.Random(), "--gallery", data.Root, "--probes", data.Root, "--json");
        Assert.Equal(0, result.Code);
        var json = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal(30, json.GetProperty("probes").GetInt32());
        Assert.Equal(6, json.GetProperty("identities").GetInt32());
        double rank1 = json.GetProperty("rank1").GetDouble(), rank5 = json.GetProperty("rank5").GetDouble();
        Assert.InRange(rank1, 0, 1);
        Assert.InRange(rank5, rank1, 1);
        // Every probe folder is enrolled: no open-set impostors, so DIR at FPIR cannot be measured (exact figures: ProtocolTests).
        Assert.Equal(0, json.GetProperty("unknown_probes").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.GetProperty("dir_at_fpir").GetProperty("0.01").ValueKind);
    }

    [Fact]
    public void EvalVerifyReadsABinSet()
    {
        // Build an InsightFace .bin (protocol 2 pickle) of 20 pairs from the synthetic faces.
        var images = new List<byte[]>();
        var same = new List<bool>();
        for (int i = 0; i < 20; i++)
        {
            int a = i % 30, b = i % 2 == 0 ? (a / 5) * 5 + (a % 5 + 1) % 5 : (a + 5) % 30;
            images.Add(File.ReadAllBytes(Image(a)));
            images.Add(File.ReadAllBytes(Image(b)));
            same.Add(data.Dataset.GetLabel(a) == data.Dataset.GetLabel(b));
        }
        var p = new List<byte> { 0x80, 2, (byte)']', (byte)'q', 0, (byte)'(' };
        foreach (var image in images) { p.Add((byte)'B'); p.AddRange(BitConverter.GetBytes(image.Length)); p.AddRange(image); }
        p.AddRange([(byte)'e', (byte)']', (byte)'q', 1, (byte)'(']);
        p.AddRange(same.Select(s => s ? (byte)0x88 : (byte)0x89));
        p.AddRange([(byte)'e', 0x86, (byte)'q', 2, (byte)'.']);
        string bin = Path.Combine(TestPaths.NewTempDirectory("bin"), "synthetic.bin");
        File.WriteAllBytes(bin, [.. p]);
        string report = Path.Combine(Path.GetDirectoryName(bin)!, "report");
        var result = CliHarness.Run("eval", "verify", "--model", TestModels.Random(), "--bin", bin, "--report", report, "--json");
        Assert.Equal(0, result.Code);
        var json = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal(20, json.GetProperty("pairs").GetInt32());
        foreach (string key in new[] { "accuracy_mean", "accuracy_std", "threshold" }) Assert.Equal(JsonValueKind.Number, json.GetProperty(key).ValueKind);
        Assert.True(json.GetProperty("tar_at_far").TryGetProperty("1e-3", out _));
        Assert.True(File.Exists(Path.Combine(report, "report.html")));
        Assert.True(new FileInfo(Path.Combine(report, "roc.png")).Length > 1000);
    }

    [Fact]
    public void TrainAcceptsLowerCaseHeadNamesAndWritesARunFolder()
    {
        string run = TestPaths.NewTempDirectory("run-cli");
        var result = CliHarness.Run("train", "--data", data.Root, "--arch", "mobilefacenet", "--head", "arcface", "--out", run, "--width", "0.125",
            "--embedding-size", "32", "--max-steps", "2", "--batch-size", "8", "--scale", "16", "--margin", "0.2", "--json");
        Assert.Equal(0, result.Code);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))).RootElement;
        Assert.Equal((16.0, 0.2, "ArcFace"), (config.GetProperty("scale").GetDouble(), config.GetProperty("margin").GetDouble(), config.GetProperty("head").GetString()));
        foreach (string file in new[] { "config.json", "metrics.jsonl", "model.ffm", "report.html", "finished.json" })
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        var again = CliHarness.Run("train", "--data", data.Root, "--arch", "mobilefacenet", "--out", run, "--max-steps", "2");
        Assert.Equal(CliRunner.UserErrorExitCode, again.Code);
        Assert.Contains("--force", again.Error);
    }
}
