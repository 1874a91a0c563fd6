using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace FaceForge.Tests;

/// <summary>
/// Two `faceforge serve` processes on one PostgreSQL gallery: one enrols a face, the other identifies it; neither
/// process maps libtorch.
/// </summary>
public class ServeTwoProcessTests(ServeFixture fixture, PostgresServer server) : IClassFixture<ServeFixture>, IClassFixture<PostgresServer>
{
    private const string Face = "data/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg";

    private static string Faceforge => Path.Combine(AppContext.BaseDirectory, "faceforge");

    [PostgresFact]
    public async Task OneServiceEnrolsAndAnotherIdentifiesThroughASharedPostgresGallery()
    {
        if (TestPaths.Shared is null) return; // the photo and YuNet live in ../shared (skipped like SharedFact would, without a second attribute)
        string location = server.ConnectionString("serve_shared");
        fixture.NewGallery(threshold: 0.5, location: location);
        var (writer, writerUrl) = Start(location);
        var (reader, readerUrl) = Start(location);
        try
        {
            using var client = new HttpClient();
            await Healthy(client, writerUrl, writer);
            await Healthy(client, readerUrl, reader);
            foreach (var process in new[] { writer, reader })
                Assert.DoesNotContain("libtorch", File.ReadAllText($"/proc/{process.Id}/maps"));

            var enrolled = await client.SendAsync(ServeFixture.Request(HttpMethod.Post, writerUrl + "/v1/galleries/main/subjects/aaron/faces", fixture.WriteKey, ServeFixture.Files(ServeFixture.Photo(Face))));
            Assert.True(enrolled.StatusCode == HttpStatusCode.Created, await enrolled.Content.ReadAsStringAsync());

            // The other process applies the shared log at most a second later (GalleryOpenOptions.RefreshInterval): ask until it knows.
            JsonElement face = default;
            for (int attempt = 0; attempt < 60; attempt++)
            {
                var answer = await client.SendAsync(ServeFixture.Request(HttpMethod.Post, readerUrl + "/v1/galleries/main/identify", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Face))));
                string body = await answer.Content.ReadAsStringAsync();
                Assert.True(answer.StatusCode == HttpStatusCode.OK, body);
                face = JsonDocument.Parse(body).RootElement.GetProperty("faces")[0];
                if (face.GetProperty("known").GetBoolean()) break;
                await Task.Delay(500);
            }
            Assert.Equal("aaron", face.GetProperty("subject").GetString());
            Assert.Equal(1.0, face.GetProperty("matches")[0].GetProperty("score").GetDouble(), 3);
        }
        finally
        {
            foreach (var process in new[] { writer, reader })
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                process.WaitForExit();
                process.Dispose();
            }
        }
    }

    private (Process Process, string Url) Start(string gallery)
    {
        string url = $"http://127.0.0.1:{FreePort()}";
        var start = new ProcessStartInfo(Faceforge) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "serve", "--gallery", gallery, "--model", fixture.Model, "--detector", fixture.Detector, "--keys", fixture.Keys, "--urls", url })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, url);
    }

    private static async Task Healthy(HttpClient client, string url, Process process)
    {
        for (int attempt = 0; attempt < 240; attempt++)
        {
            Assert.False(process.HasExited, $"faceforge serve exited with {(process.HasExited ? process.ExitCode : 0)}");
            try
            {
                if ((await client.GetAsync(url + "/health")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(250);
        }
        Assert.Fail($"{url} did not answer /health within a minute");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
