using System.CommandLine;
using FaceForge.Server;

namespace FaceForge.Cli.Commands;

/// <summary>`faceforge keys create`: a new API key for `faceforge serve`; only its hash is stored.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var file = new Option<string>("--file") { Description = "The keys file to append to (created if missing, readable by its owner only).", Required = true };
        var scope = new Option<string>("--scope") { Description = "read (detect, verify, identify, list), write (also enrol and delete) or admin (also /metrics).", Required = true };
        scope.AcceptOnlyFromAmong("read", "write", "admin");
        var create = new Command("create", "Create an API key: printed once, its SHA-256 appended to the keys file.") { file, scope };
        create.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            if (Directory.Exists(path)) throw new UserErrorException($"--file: '{path}' is a folder; give a file name such as keys.txt.");
            ApiKeyFile.TryScope(parse.GetValue(scope)!, out var chosen);
            string key = ApiKeyFile.Create(path, chosen);
            parse.InvocationConfiguration.Output.WriteLine(key);
            parse.InvocationConfiguration.Error.WriteLine($"created a {parse.GetValue(scope)} key; {path} holds only its hash, so keep the key now: it is not shown again.");
            return 0;
        });
        var keys = new Command("keys", "API keys for 'faceforge serve'.");
        keys.Subcommands.Add(create);
        return keys;
    }
}
