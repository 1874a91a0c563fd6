using System.CommandLine;
using FaceForge.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;

namespace FaceForge.Cli.Commands;

/// <summary>
/// `faceforge serve`: the REST service and web page over galleries (docs/service.md). Models run on ONNX Runtime
/// only: a .ffm model is refused with the export command to run, so the service never loads libtorch.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var gallery = new Option<string[]>("--gallery") { Description = "A gallery to serve: NAME=PATH (repeatable), or one PATH served as 'main'. PATH may be a PostgreSQL location.", Required = true, AllowMultipleArgumentsPerToken = false };
        var model = new Option<string>("--model") { Description = "Recognition model, ONNX (faceforge export onnx): the galleries' model or its export.", Required = true };
        var detector = new Option<string>("--detector") { Description = "Face detector with landmarks, ONNX (an exported RetinaFace, or YuNet).", Required = true };
        var urls = new Option<string>("--urls") { Description = "Where to listen, ';'-separated.", DefaultValueFactory = _ => "http://127.0.0.1:5000" };
        var keys = new Option<string?>("--keys") { Description = "API keys file (faceforge keys create); without it the API is open to anyone who can reach it." };
        var rate = new Option<int>("--rate-limit") { Description = "Requests per second per API key; beyond it 429.", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var queue = new Option<int>("--queue") { Description = "Images that may wait for the models; beyond it 503 with Retry-After.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var batch = new Option<int>("--max-batch") { Description = "Most images analysed in one model call.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var window = new Option<int>("--batch-window-ms") { Description = "How long the first image of a batch waits for others, in ms.", DefaultValueFactory = _ => 5 }.Between(0, 1000);
        var timeout = new Option<int>("--timeout") { Description = "Seconds a request may wait for its images to be analysed; then 504.", DefaultValueFactory = _ => 30 }.AtLeast(1);
        var maxBytes = new Option<int>("--max-image-mb") { Description = "Largest image file accepted, in MB.", DefaultValueFactory = _ => 10 }.Between(1, 1024);
        var maxPixels = new Option<int>("--max-image-megapixels") { Description = "Largest image accepted, in megapixels, checked before decoding.", DefaultValueFactory = _ => 40 }.Between(1, 100);
        var command = new Command("serve", "Serve galleries over HTTP: REST API (/v1), OpenAPI (/openapi/v1.json, /scalar), /health, /metrics and a web page at /.")
        {
            gallery, model, detector, urls, keys, rate, queue, batch, window, timeout, maxBytes, maxPixels,
        };
        command.SetAction(parse =>
        {
            var options = new FaceServerOptions
            {
                Galleries = Galleries(parse.GetValue(gallery) ?? []),
                ModelPath = Path.GetFullPath(parse.GetValue(model)!),
                DetectorPath = Path.GetFullPath(parse.GetValue(detector)!),
                KeysPath = parse.GetValue(keys),
                RateLimit = parse.GetValue(rate),
                QueueCapacity = parse.GetValue(queue),
                MaxBatch = parse.GetValue(batch),
                BatchWindow = TimeSpan.FromMilliseconds(parse.GetValue(window)),
                RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                MaxImageBytes = parse.GetValue(maxBytes) * 1024L * 1024,
                MaxImagePixels = parse.GetValue(maxPixels) * 1_000_000L,
            };
            var addresses = parse.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (string address in addresses)
                if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    throw new UserErrorException($"--urls: '{address}' is not an http:// or https:// address.");
            var app = FaceServer.Build(options, builder => builder.WebHost.UseUrls(addresses));
            var error = parse.InvocationConfiguration.Error;
            if (options.KeysPath is null) error.WriteLine("warning: no --keys: anyone who can reach the service may read, enrol and delete; create keys with 'faceforge keys create'.");
            try
            {
                app.Start();
            }
            catch (IOException e)
            {
                app.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw new UserErrorException($"--urls: cannot listen on {string.Join(", ", addresses)}: {e.Message}");
            }
            parse.InvocationConfiguration.Output.WriteLine($"serving {string.Join(", ", options.Galleries.Keys)} on {string.Join(", ", app.Urls)} (page /, API /v1, docs /scalar); Ctrl+C stops after requests in flight finish");
            try
            {
                app.WaitForShutdown();
            }
            finally
            {
                app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        });
        return command;
    }

    /// <summary>NAME=PATH pairs, or a single PATH named 'main'.</summary>
    internal static Dictionary<string, string> Galleries(string[] values)
    {
        var galleries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int eq = value.IndexOf('=', StringComparison.Ordinal);
            // A PostgreSQL connection string holds '=' too: only a leading gallery name counts as NAME=.
            bool named = eq > 0 && NameRules.GalleryProblem(value[..eq]) is null && !value[..eq].Contains(';', StringComparison.Ordinal)
                && !value[..eq].Equals("Host", StringComparison.OrdinalIgnoreCase);
            string name = named ? value[..eq] : "main";
            string path = named ? value[(eq + 1)..] : value;
            if (!named && values.Length > 1) throw new UserErrorException($"--gallery: with several galleries give each as NAME=PATH ('{value}' has no name).");
            if (NameRules.GalleryProblem(name) is { } problem) throw new UserErrorException($"--gallery: {problem}.");
            if (!galleries.TryAdd(name, path)) throw new UserErrorException($"--gallery: the name '{name}' is given twice.");
        }
        return galleries;
    }
}
