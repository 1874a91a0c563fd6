using System.Net.Http.Headers;
using FaceForge.Gallery;
using FaceForge.Models;
using FaceForge.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;

namespace FaceForge.Tests;

/// <summary>
/// What the service tests share: a small random recognition model exported to ONNX, YuNet from ../shared as the
/// detector, a keys file with one key per scope, and a way to start services on fresh galleries in-process.
/// </summary>
public sealed class ServeFixture : IDisposable
{
    public ServeFixture()
    {
        Root = TestPaths.NewTempDirectory("serve");
        Detector = TestPaths.Shared is { } shared ? Path.Combine(shared, "models/yunet/face_detection_yunet.onnx") : "";
        string ffm = TestModels.Random(Root);
        Model = Path.Combine(Root, "random.onnx");
        FaceForge.Training.Export.OnnxExporter.Export(ffm, Model);
        Keys = Path.Combine(Root, "keys.txt");
        ReadKey = ApiKeyFile.Create(Keys, ApiScope.Read);
        WriteKey = ApiKeyFile.Create(Keys, ApiScope.Write);
        AdminKey = ApiKeyFile.Create(Keys, ApiScope.Admin);
    }

    public string Root { get; }

    public string Model { get; }

    public string Detector { get; }

    public string Keys { get; }

    public string ReadKey { get; }

    public string WriteKey { get; }

    public string AdminKey { get; }

    /// <summary>A new gallery of the test model (and detector) with <paramref name="threshold"/>.</summary>
    public string NewGallery(double? threshold = 0.5, string? location = null)
    {
        location ??= Path.Combine(TestPaths.NewTempDirectory("serve-gallery"), "faces.gallery");
        using var embedder = new Embedding.OnnxFaceEmbedder(Model);
        var info = embedder.Info;
        using var gallery = FaceGallery.Create(location, new GalleryModel(ModelFingerprint.Of(Model), info.Architecture, info.EmbeddingSize, info.Template, Model, Detector));
        if (threshold is double t) gallery.SetThreshold(t);
        return location;
    }

    public FaceServerOptions Options(string gallery) => new()
    {
        Galleries = new Dictionary<string, string> { ["main"] = gallery },
        ModelPath = Model,
        DetectorPath = Detector,
        KeysPath = Keys,
        RateLimit = 10_000,
    };

    /// <summary>A started in-process service (TestServer) and its client.</summary>
    public static async Task<(WebApplication App, HttpClient Client)> Start(FaceServerOptions options)
    {
        var app = FaceServer.Build(options, b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return (app, app.GetTestClient());
    }

    public static string Photo(string relative) => Path.Combine(TestPaths.Shared!, relative);

    /// <summary>A multipart body with each file in the field "image" (or <paramref name="field"/>).</summary>
    public static MultipartFormDataContent Images(string field = "image", params (byte[] Bytes, string Name)[] files)
    {
        var content = new MultipartFormDataContent();
        foreach (var (bytes, name) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            content.Add(part, field, name);
        }
        return content;
    }

    public static MultipartFormDataContent Files(params string[] paths) => Images("image", paths.Select(p => (File.ReadAllBytes(p), Path.GetFileName(p))).ToArray());

    public static HttpRequestMessage Request(HttpMethod method, string url, string? key, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = content };
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        return request;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a finishing test: the temp folder is cleaned up with the others.
        }
    }
}
