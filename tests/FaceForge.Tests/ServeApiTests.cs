using FaceForge.Imaging;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FaceForge.Gallery;
using FaceForge.Server;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FaceForge.Tests;

/// <summary>
/// `faceforge serve`'s API in-process (TestServer): every endpoint, every refusal (keys, scopes, limits, names,
/// malformed bodies) as problem+json without stack traces, and that refused requests store nothing.
/// </summary>
public class ServeApiTests(ServeFixture fixture) : IClassFixture<ServeFixture>
{
    private const string Yunet = "models/yunet/face_detection_yunet.onnx";
    private static readonly string Lfw1 = "data/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg";
    private static readonly string Lfw2 = "data/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0002.jpg";
    private static readonly string Group = "data/photos/sample1.jpg";

    /// <summary>Asserts a problem+json answer with <paramref name="status"/>, a detail mentioning each of <paramref name="mentions"/>, and no stack trace.</summary>
    private static async Task<JsonElement> Problem(HttpResponseMessage response, int status, params string[] mentions)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("   at ", body);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        string detail = problem.GetProperty("detail").GetString()!;
        foreach (string mention in mentions) Assert.Contains(mention, detail);
        return problem;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response, int status = 200)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, string? key, HttpContent? content = null) =>
        client.SendAsync(ServeFixture.Request(method, url, key, content));

    private static int Faces(string gallery)
    {
        using var opened = FaceGallery.Open(gallery);
        return opened.Count;
    }

    [SharedFact(Yunet)]
    public async Task HealthDetectVerifyAndDocumentsAnswer()
    {
        var (app, client) = await ServeFixture.Start(fixture.Options(fixture.NewGallery()));
        await using var _ = app;
        var health = await Json(await client.GetAsync("/health"));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(0, health.GetProperty("galleries").GetProperty("main").GetProperty("faces").GetInt32());

        var detected = await Json(await Send(client, HttpMethod.Post, "/v1/detect", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Group))));
        Assert.True(detected.GetProperty("faces").GetArrayLength() > 1, detected.ToString());
        var box = detected.GetProperty("faces")[0].GetProperty("box");
        Assert.True(box.GetProperty("right").GetSingle() > box.GetProperty("left").GetSingle());
        Assert.Equal(5, detected.GetProperty("faces")[0].GetProperty("landmarks").GetArrayLength());

        var same = await Json(await Send(client, HttpMethod.Post, "/v1/verify", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1), ServeFixture.Photo(Lfw1))));
        Assert.Equal(1.0, same.GetProperty("score").GetDouble(), 3);
        Assert.Equal(2, same.GetProperty("faces").GetArrayLength());
        await Problem(await Send(client, HttpMethod.Post, "/v1/verify", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1))), 400, "takes 2 file(s)");
        var verified = await Json(await Send(client, HttpMethod.Post, "/v1/verify?threshold=0.99", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1), ServeFixture.Photo(Lfw2))));
        Assert.Equal(0.99, verified.GetProperty("threshold").GetDouble());
        await Problem(await Send(client, HttpMethod.Post, "/v1/verify?threshold=2", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1), ServeFixture.Photo(Lfw2))), 400, "threshold");

        string openapi = await client.GetStringAsync("/openapi/v1.json");
        foreach (string route in new[] { "/v1/detect", "/v1/verify", "/v1/galleries/{gallery}/subjects", "/v1/galleries/{gallery}/subjects/{id}", "/v1/galleries/{gallery}/subjects/{id}/faces", "/v1/galleries/{gallery}/faces", "/v1/galleries/{gallery}/identify", "/health", "/metrics" })
            Assert.Contains($"\"{route}\"", openapi);
        Assert.Contains("inter_ocular_pixels", openapi); // snake_case schemas
        var scalar = await client.GetAsync("/scalar/v1");
        Assert.True(scalar.StatusCode == HttpStatusCode.OK, $"/scalar/v1: {scalar.StatusCode}");
        Assert.Contains("html", scalar.Content.Headers.ContentType?.MediaType);
        Assert.Contains("html", (await client.GetAsync("/")).Content.Headers.ContentType?.MediaType);
    }

    [SharedFact(Yunet)]
    public async Task SubjectsEnrolIdentifyListAndDelete()
    {
        string gallery = fixture.NewGallery(threshold: 0.5);
        var (app, client) = await ServeFixture.Start(fixture.Options(gallery));
        await using (app)
        {
            var created = await Json(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, JsonContent.Create(new { id = "aaron", metadata = new Dictionary<string, string> { ["name"] = "Aaron Peirsol" } })), 201);
            Assert.Equal("aaron", created.GetProperty("id").GetString());
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, JsonContent.Create(new { id = "aaron" })), 409, "aaron");
            var subject = await Json(await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects/aaron", fixture.ReadKey));
            Assert.Equal(0, subject.GetProperty("faces").GetInt32());
            Assert.Equal("Aaron Peirsol", subject.GetProperty("metadata").GetProperty("name").GetString());

            var enrolled = await Json(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects/aaron/faces", fixture.WriteKey, ServeFixture.Files(ServeFixture.Photo(Lfw1), ServeFixture.Photo(Lfw2))), 201);
            Assert.Equal(2, enrolled.GetProperty("face_ids").GetArrayLength());
            Assert.Equal(2, enrolled.GetProperty("subject_faces").GetInt32());
            Assert.True(enrolled.GetProperty("quality")[0].GetProperty("inter_ocular_pixels").GetSingle() >= 20);
            // A subject not created first is created by its first enrolment.
            await Json(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects/group/faces?largest=true", fixture.WriteKey, ServeFixture.Files(ServeFixture.Photo(Group))), 201);

            var identified = await Json(await Send(client, HttpMethod.Post, "/v1/galleries/main/identify?top_k=2", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1))));
            Assert.Equal(0.5, identified.GetProperty("threshold").GetDouble());
            var face = identified.GetProperty("faces")[0];
            Assert.True(face.GetProperty("known").GetBoolean());
            Assert.Equal("aaron", face.GetProperty("subject").GetString());
            Assert.Equal("aaron", face.GetProperty("matches")[0].GetProperty("subject").GetString());
            Assert.Equal(1.0, face.GetProperty("matches")[0].GetProperty("score").GetDouble(), 3);
            Assert.Equal(2, face.GetProperty("matches").GetArrayLength());
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/identify?top_k=0", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1))), 400, "top_k");

            var list = await Json(await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects", fixture.ReadKey));
            Assert.Equal(["aaron", "group"], list.GetProperty("subjects").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToArray());
            var page = await Json(await Send(client, HttpMethod.Get, "/v1/galleries/main/faces?offset=1&limit=1", fixture.ReadKey));
            Assert.Equal(3, page.GetProperty("total").GetInt32());
            Assert.Equal(1, page.GetProperty("faces").GetArrayLength());
            Assert.Equal("aaron", page.GetProperty("faces")[0].GetProperty("subject").GetString());
            await Problem(await Send(client, HttpMethod.Get, "/v1/galleries/main/faces?limit=5000", fixture.ReadKey), 400, "limit");

            var removed = await Json(await Send(client, HttpMethod.Delete, "/v1/galleries/main/subjects/aaron", fixture.WriteKey));
            Assert.Equal(2, removed.GetProperty("removed_faces").GetInt32());
            await Problem(await Send(client, HttpMethod.Delete, "/v1/galleries/main/subjects/aaron", fixture.WriteKey), 404, "aaron");
            await Problem(await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects/aaron", fixture.ReadKey), 404, "aaron");
        }
        Assert.Equal(1, Faces(gallery));
    }

    [SharedFact(Yunet)]
    public async Task QualityGateRefusesWholeRequestAndStoresNothing()
    {
        string gallery = fixture.NewGallery();
        var (app, client) = await ServeFixture.Start(fixture.Options(gallery));
        await using (app)
        {
            // Several faces without largest=true, and no face at all (a blank image), are refused, with the good image beside them.
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects/x/faces", fixture.WriteKey, ServeFixture.Files(ServeFixture.Photo(Lfw1), ServeFixture.Photo(Group))), 422, "faces found", "largest=true", "nothing was enrolled");
            var blank = Imaging.ImageEncoder.EncodePng(new Imaging.RgbImage(64, 64, new byte[64 * 64 * 3]));
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects/x/faces", fixture.WriteKey, ServeFixture.Images("image", (blank, "blank.png"))), 422, "no face found");
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects/x/faces", fixture.WriteKey, ServeFixture.Images("image", ("not an image"u8.ToArray(), "x.jpg"))), 422, "not a supported image");
        }
        Assert.Equal(0, Faces(gallery));
    }

    [SharedFact(Yunet)]
    public async Task KeysScopesNamesAndMalformedRequestsAreRefusedStoringNothing()
    {
        string gallery = fixture.NewGallery();
        var (app, client) = await ServeFixture.Start(fixture.Options(gallery) with { MaxImageBytes = 100_000, MaxImagePixels = 4_000_000 });
        await using (app)
        {
            string enrol = "/v1/galleries/main/subjects/x/faces";
            var image = () => ServeFixture.Files(ServeFixture.Photo(Lfw1));
            var unauthorized = await Send(client, HttpMethod.Post, "/v1/detect", null, image());
            Assert.Equal("ApiKey header=\"X-Api-Key\"", unauthorized.Headers.WwwAuthenticate.ToString()); // kept through the problem body
            var noKey = await Problem(unauthorized, 401, "X-Api-Key");
            await Problem(await Send(client, HttpMethod.Post, enrol, "ff_000000000000_" + new string('0', 64), image()), 401, "not valid");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.ReadKey, image()), 403, "'read'", "'write'");
            await Problem(await Send(client, HttpMethod.Delete, "/v1/galleries/main/subjects/x", fixture.ReadKey), 403, "'write'");
            await Problem(await Send(client, HttpMethod.Get, "/metrics", fixture.WriteKey), 403, "'admin'");
            var metrics = await Send(client, HttpMethod.Get, "/metrics", fixture.AdminKey);
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            string text = await metrics.Content.ReadAsStringAsync();
            Assert.Contains("faceforge_requests_total{method=\"POST\",route=\"/v1/detect\",status=\"401\"} 1", text);
            Assert.Contains("faceforge_request_duration_seconds_bucket", text);

            // Oversized bytes (the body is refused on its declared length), a pixel bomb (refused from its header), Netpbm too.
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, ServeFixture.Images("image", (new byte[300_000], "big.jpg"))), 413, "limit");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, ServeFixture.Images("image", (PixelBombPng(50_000, 50_000), "bomb.png"))), 413, "50000x50000");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, ServeFixture.Images("image", (Encoding.ASCII.GetBytes("P6\n50000 50000\n255\n"), "bomb.ppm"))), 413, "50000x50000");
            // Names: traversal, SQL-looking, too long; unknown and invalid galleries.
            // (A ".." segment never reaches a handler: clients and Kestrel resolve dot segments first.)
            foreach (string bad in new[] { "..%2F..%2Fetc%2Fpasswd", ".hidden", "x'%3B%20DROP%20TABLE%20subjects%3B--", "Robert');DROP", new string('a', 200) })
                await Problem(await Send(client, HttpMethod.Post, $"/v1/galleries/main/subjects/{bad}/faces", fixture.WriteKey, image()), 400, "not a subject id");
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, JsonContent.Create(new { id = "../../etc" })), 400, "not a subject id");
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, JsonContent.Create(new { id = ".." })), 400, "not a subject id");
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, JsonContent.Create(new { id = "a' OR '1'='1" })), 400, "not a subject id");
            await Problem(await Send(client, HttpMethod.Get, "/v1/galleries/..%2F..%2Ftmp/subjects", fixture.ReadKey), 400, "not a gallery name");
            await Problem(await Send(client, HttpMethod.Get, "/v1/galleries/other/subjects", fixture.ReadKey), 404, "no gallery 'other'", "main");
            // Malformed bodies: JSON, multipart, content types, field names.
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, new StringContent("{\"id\": ", Encoding.UTF8, "application/json")), 400, "not a subject object");
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, new StringContent("{}", Encoding.UTF8, "application/json")), 400, "no \"id\"");
            await Problem(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, new StringContent("id=x", Encoding.UTF8, "text/plain")), 415, "text/plain", "application/json");
            var broken = new ByteArrayContent("--zzz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\nabc"u8.ToArray());
            broken.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=zzz");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, broken), 400, "multipart");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, new StringContent("x", Encoding.UTF8, "image/jpeg")), 415, "image/jpeg", "multipart/form-data");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, ServeFixture.Images("photo", (File.ReadAllBytes(ServeFixture.Photo(Lfw1)), "a.jpg"))), 400, "'image'", "'photo'");
            await Problem(await Send(client, HttpMethod.Get, "/v1/nothing", fixture.ReadKey), 404, "/v1/nothing");
            await Problem(await Send(client, HttpMethod.Put, "/v1/detect", fixture.ReadKey), 405, "PUT");
            Assert.Equal("Unauthorized", noKey.GetProperty("title").GetString());
            // Smaller than a detector takes (it was a 500 from the detector's own check).
            await Problem(await Send(client, HttpMethod.Post, "/v1/detect", fixture.ReadKey, ServeFixture.Images("image", (ImageEncoder.EncodePng(new RgbImage(1, 1)), "dot.png"))), 422, "1x1");
            await Problem(await Send(client, HttpMethod.Post, enrol, fixture.WriteKey, ServeFixture.Images("image", (ImageEncoder.EncodePng(new RgbImage(2000, 1)), "line.png"))), 422, "2000x1");
            // The metrics count the status the client got: refusals were counted as 200 before.
            string counted = await (await Send(client, HttpMethod.Get, "/metrics", fixture.AdminKey)).Content.ReadAsStringAsync();
            Assert.Contains("faceforge_requests_total{method=\"POST\",route=\"/v1/galleries/{gallery}/subjects/{id}/faces\",status=\"413\"} 3", counted);
            Assert.Contains("faceforge_requests_total{method=\"POST\",route=\"/v1/detect\",status=\"422\"} 1", counted);
            Assert.DoesNotContain("route=\"/v1/galleries/{gallery}/subjects/{id}/faces\",status=\"200\"", counted);
            // A null metadata value stores no key, and the reply says what was stored.
            var created = await Json(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", fixture.WriteKey, new StringContent("{\"id\": \"nm\", \"metadata\": {\"a\": null, \"b\": \"x\"}}", Encoding.UTF8, "application/json")), 201);
            var stored = await Json(await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects/nm", fixture.ReadKey));
            Assert.Equal(stored.GetProperty("metadata").GetRawText(), created.GetProperty("metadata").GetRawText());
            Assert.Equal("{\"b\":\"x\"}", created.GetProperty("metadata").GetRawText());
            Assert.Equal(HttpStatusCode.OK, (await Send(client, HttpMethod.Delete, "/v1/galleries/main/subjects/nm", fixture.WriteKey)).StatusCode);
        }
        Assert.Equal(0, Faces(gallery));
        using var opened = FaceGallery.Open(gallery);
        Assert.Empty(opened.Subjects());
    }

    [SharedFact(Yunet)]
    public async Task WithoutAKeysFileEveryRequestIsAllowed()
    {
        var (app, client) = await ServeFixture.Start(fixture.Options(fixture.NewGallery()) with { KeysPath = null });
        await using var _ = app;
        await Json(await Send(client, HttpMethod.Post, "/v1/galleries/main/subjects", null, JsonContent.Create(new { id = "open" })), 201);
        Assert.Equal(HttpStatusCode.OK, (await Send(client, HttpMethod.Get, "/metrics", null)).StatusCode);
    }

    [SharedFact(Yunet)]
    public async Task FloodBeyondTheRateLimitGets429PerKey()
    {
        var (app, client) = await ServeFixture.Start(fixture.Options(fixture.NewGallery()) with { RateLimit = 3, RateWindow = TimeSpan.FromHours(1) });
        await using var _ = app;
        for (int i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects", fixture.ReadKey)).StatusCode);
        var refused = await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects", fixture.ReadKey);
        await Problem(refused, 429, "3 requests per 3600 s");
        Assert.True(refused.Headers.RetryAfter is not null);
        // Another key has its own budget.
        Assert.Equal(HttpStatusCode.OK, (await Send(client, HttpMethod.Get, "/v1/galleries/main/subjects", fixture.WriteKey)).StatusCode);
    }

    [SharedFact(Yunet)]
    public async Task FullQueueGets503AndAStuckRequestTimesOut()
    {
        var (app, client) = await ServeFixture.Start(fixture.Options(fixture.NewGallery()) with { QueueCapacity = 1, RequestTimeout = TimeSpan.FromSeconds(2) });
        await using var _ = app;
        var queue = app.Services.GetRequiredService<FaceAnalysisQueue>();
        queue.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = Send(client, HttpMethod.Post, "/v1/detect", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1)));
        while (queue.Pending < 1) await Task.Delay(10);
        var busy = await Send(client, HttpMethod.Post, "/v1/detect", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1)));
        await Problem(busy, 503, "waiting");
        Assert.True(busy.Headers.RetryAfter is not null);
        // The held request passes its timeout: 504, and the worker skips it once released.
        await Problem(await first, 504, "not analysed within 2 s");
        queue.Hold.SetResult();
        queue.Hold = null;
        // The stale request keeps its queue slot until the worker reaches and skips it; a request sent before then met
        // a full queue (503): this test failed now and then on a busy machine. Wait for the skip, then the queue serves.
        for (int waited = 0; queue.Pending > 0; waited += 10)
        {
            Assert.True(waited < 30_000, "the worker did not skip the timed-out request");
            await Task.Delay(10);
        }
        Assert.Equal(HttpStatusCode.OK, (await Send(client, HttpMethod.Post, "/v1/detect", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1)))).StatusCode);
    }

    [SharedFact(Yunet)]
    public async Task ConcurrentRequestsShareOneModelCall()
    {
        var (app, client) = await ServeFixture.Start(fixture.Options(fixture.NewGallery()));
        await using var _ = app;
        var queue = app.Services.GetRequiredService<FaceAnalysisQueue>();
        queue.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = Enumerable.Range(0, 4).Select(_ => Send(client, HttpMethod.Post, "/v1/galleries/main/identify", fixture.ReadKey, ServeFixture.Files(ServeFixture.Photo(Lfw1)))).ToList();
        while (queue.Pending < 4) await Task.Delay(10);
        queue.Hold.SetResult();
        foreach (var response in await Task.WhenAll(requests)) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string metrics = await (await Send(client, HttpMethod.Get, "/metrics", fixture.AdminKey)).Content.ReadAsStringAsync();
        Assert.Contains("faceforge_batches_total 1\n", metrics);
        Assert.Contains("faceforge_batched_images_total 4\n", metrics);
    }

    /// <summary>A valid PNG header (signature, IHDR with its CRC) claiming <paramref name="width"/> x <paramref name="height"/>, and no pixels.</summary>
    internal static byte[] PixelBombPng(int width, int height)
    {
        var ihdr = new List<byte>("IHDR"u8.ToArray());
        ihdr.AddRange(BigEndian(width));
        ihdr.AddRange(BigEndian(height));
        ihdr.AddRange(new byte[] { 8, 2, 0, 0, 0 });
        var png = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
        png.AddRange(BigEndian(13));
        png.AddRange(ihdr);
        png.AddRange(BigEndian((int)Crc32(ihdr.ToArray())));
        var idat = new List<byte>("IDAT"u8.ToArray()) { 0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 };
        png.AddRange(BigEndian(idat.Count - 4));
        png.AddRange(idat);
        png.AddRange(BigEndian((int)Crc32(idat.ToArray())));
        return [.. png];
    }

    private static byte[] BigEndian(int value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
