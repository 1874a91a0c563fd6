using System.Diagnostics;
using Xunit;

namespace FaceForge.Tests;

/// <summary>
/// A throw-away PostgreSQL server for the shared-gallery tests: initdb into a temporary folder, started on a Unix
/// socket only (no TCP port), trust authentication, stopped and deleted at the end. Uses Debian's postgresql
/// package (.ci/run installs it when missing); as root it runs the server as the 'postgres' user.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string _bin;
    private readonly string _data;
    private readonly string? _user;

    public PostgresServer()
    {
        // Created as a class fixture even when its tests are skipped: then it starts nothing.
        _bin = Binaries() ?? "";
        Root = TestPaths.NewTempDirectory("postgres");
        _data = Path.Combine(Root, "data");
        if (_bin.Length == 0) return;
        _user = Environment.UserName == "root" ? "postgres" : null;
        if (_user is not null) Run("chown", "-R", "postgres", Root);
        Port = 20_000 + Environment.ProcessId % 10_000;
        Server("initdb", "-D", _data, "--auth=trust", "-U", "postgres", "--no-sync");
        Server("pg_ctl", "-D", _data, "-l", Path.Combine(Root, "log"), "-w", "-o", $"-k {Root} -p {Port} -c listen_addresses='' -c fsync=off", "start");
    }

    /// <summary>The folder holding the data and the socket.</summary>
    public string Root { get; }

    /// <summary>The port number the socket file carries.</summary>
    public int Port { get; }

    /// <summary>A connection string to database postgres, in <paramref name="schema"/>.</summary>
    public string ConnectionString(string schema) => $"Host={Root};Port={Port};Username=postgres;Database=postgres;Search Path={schema}";

    /// <summary>The folder of the server's programs, or null when PostgreSQL is not installed.</summary>
    public static string? Binaries()
    {
        if (!Directory.Exists("/usr/lib/postgresql")) return null;
        return Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderDescending().FirstOrDefault();
    }

    public void Dispose()
    {
        try
        {
            if (_bin.Length > 0) Server("pg_ctl", "-D", _data, "-m", "fast", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped; the folder is removed below either way.
        }
        Directory.Delete(Root, recursive: true);
    }

    private void Server(string program, params string[] args)
    {
        string path = Path.Combine(_bin, program);
        if (_user is null) Run(path, args);
        else Run("runuser", ["-u", _user, "--", path, .. args]);
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {error}{output.Result}");
    }
}

/// <summary>A fact that needs PostgreSQL's server programs; skipped, saying so, where they are not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public const string Missing = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; Debian: apt-get install postgresql, as .ci/run does)";

    public PostgresFactAttribute()
    {
        if (PostgresServer.Binaries() is null) Skip = Missing;
    }
}
