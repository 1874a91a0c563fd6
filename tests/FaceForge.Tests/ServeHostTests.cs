using System.Net;
using FaceForge.Gallery;
using FaceForge.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FaceForge.Tests;

/// <summary>`faceforge serve` and `faceforge keys` from the command line, and the real (Kestrel) host's graceful shutdown.</summary>
public class ServeHostTests(ServeFixture fixture) : IClassFixture<ServeFixture>
{
    private const string Yunet = "models/yunet/face_detection_yunet.onnx";

    [Fact]
    public void KeysCreateAppendsHashesAndPrintsEachKeyOnce()
    {
        string file = Path.Combine(TestPaths.NewTempDirectory("serve-keys"), "keys.txt");
        var first = CliHarness.Run("keys", "create", "--file", file, "--scope", "read");
        Assert.True(first.Code == 0, first.Error);
        string key = first.Output.Trim();
        Assert.StartsWith("ff_", key);
        var second = CliHarness.Run("keys", "create", "--file", file, "--scope", "admin");
        Assert.Equal(0, second.Code);
        string text = File.ReadAllText(file);
        Assert.DoesNotContain(key, text);
        Assert.DoesNotContain(key.Split('_')[2], text);
        var keys = ApiKeyFile.Load(file);
        Assert.Equal(2, keys.Count);
        Assert.Equal(ApiScope.Read, keys.Check(key)!.Value.Scope);
        Assert.Equal(ApiScope.Admin, keys.Check(second.Output.Trim())!.Value.Scope);
        Assert.Null(keys.Check(key[..^1] + (key[^1] == '0' ? '1' : '0')));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var bad = CliHarness.Run("keys", "create", "--file", file, "--scope", "root");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--scope", bad.Error);
    }

    [SharedFact(Yunet)]
    public void ServeRefusesFfmModelsAndBadGalleriesInOneLine()
    {
        string gallery = fixture.NewGallery();
        string ffm = Path.ChangeExtension(fixture.Model, ".ffm");
        var (code, _, error) = CliHarness.Run("serve", "--gallery", gallery, "--model", ffm, "--detector", fixture.Detector);
        Assert.Equal(2, code);
        Assert.Contains("faceforge export onnx --model", error);
        Assert.DoesNotContain("   at ", error);
        (code, _, error) = CliHarness.Run("serve", "--gallery", "a/b=" + gallery, "--gallery", "x=" + gallery, "--model", fixture.Model, "--detector", fixture.Detector);
        Assert.Equal(2, code);
        Assert.Contains("NAME=PATH", error);
        (code, _, error) = CliHarness.Run("serve", "--gallery", Path.Combine(fixture.Root, "missing.gallery"), "--model", fixture.Model, "--detector", fixture.Detector);
        Assert.Equal(2, code);
        Assert.Contains("missing.gallery", error);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "x.gallery", ["b"] = "Host=h;Database=d" }, FaceForge.Cli.Commands.ServeCommand.Galleries(["a=x.gallery", "b=Host=h;Database=d"]));
        Assert.Equal("Host=h;Database=d", FaceForge.Cli.Commands.ServeCommand.Galleries(["Host=h;Database=d"])["main"]);
    }

    [SharedFact(Yunet)]
    public async Task ShutdownFinishesAnEnrolmentInFlight()
    {
        string gallery = fixture.NewGallery();
        var app = FaceServer.Build(fixture.Options(gallery), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
        await app.StartAsync();
        var queue = app.Services.GetRequiredService<FaceAnalysisQueue>();
        queue.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        var enrol = client.SendAsync(ServeFixture.Request(HttpMethod.Post, "/v1/galleries/main/subjects/aaron/faces", fixture.WriteKey,
            ServeFixture.Files(ServeFixture.Photo("data/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"))));
        while (queue.Pending < 1) await Task.Delay(10);
        // The host is asked to stop while the enrolment waits for the model; only then may the model run.
        var stopping = app.StopAsync();
        queue.Hold.SetResult();
        var response = await enrol;
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await stopping;
        await app.DisposeAsync();
        using var opened = FaceGallery.Open(gallery);
        Assert.Equal(1, opened.Count);
        Assert.Equal("aaron", opened.Subjects().Single().Id);
    }
    // Storage faults under a request: their own statuses, no path or message of the server's files in the body.
    [Theory]
    [InlineData("No space left on device : '/srv/g.gallery-journal'", 507)]
    [InlineData("Read-only file system : '/srv/g.gallery'", 503)]
    [InlineData(null, 503)]
    [InlineData("disk I/O error", 500)]
    [InlineData("damaged", 500)]
    public async Task StorageFaultsAnswerWithTheirStatusAndNoServerPath(string? io, int status)
    {
        Exception fault = io switch
        {
            null => new UnauthorizedAccessException("/srv/g.gallery: cannot be written"),
            // A gallery whose change log was made a view under the service (was "Internal error", no cause).
            "damaged" => new InvalidDataException("/srv/g.gallery: a damaged FaceForge gallery: its change log 'changes' is a view, not a table"),
            _ => new IOException(io),
        };
        var middleware = new ExceptionProblemMiddleware(_ => throw fault, Microsoft.Extensions.Logging.Abstractions.NullLogger<ExceptionProblemMiddleware>.Instance);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        await middleware.InvokeAsync(context);
        Assert.Equal(status, context.Response.StatusCode);
        string body = System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.Contains($"\"status\":{status}", body.Replace(" ", ""));
        Assert.DoesNotContain("/srv", body);
        if (io == "damaged") Assert.Contains("changed by hand", body);
    }
}
