using System.Text.Json;

namespace FaceForge.Training.Hosting;

/// <summary>What a run folder holds before a run starts in it.</summary>
public enum RunFolderState
{
    /// <summary>Nothing of a run: a new run may start.</summary>
    Empty,
    /// <summary>Checkpoints of an unfinished run.</summary>
    Started,
    /// <summary>A finished run (finished.json).</summary>
    Finished,
}

/// <summary>Why a run may not start in a folder.</summary>
public enum RunConflict
{
    /// <summary>It holds a finished run (and neither resume nor overwrite was asked).</summary>
    Finished,
    /// <summary>It holds a started run (and neither resume nor overwrite was asked).</summary>
    Started,
    /// <summary>Another holder has run.lock.</summary>
    Locked,
    /// <summary>The path is a file, not a folder.</summary>
    NotAFolder,
    /// <summary>It holds a run's files (model, config, metrics) but no run: a new run would overwrite them.</summary>
    LooseFiles,
    /// <summary>Resume asked, but there is no checkpoint, while a run's files are there to be overwritten.</summary>
    NoCheckpoint,
    /// <summary>Resume of a finished run whose planned steps are all done.</summary>
    NothingLeft,
}

/// <summary>
/// A training run's folder and its layout: config.json (the effective config), metrics.jsonl (one JSON line per
/// report), checkpoints/ (process r &gt; 0 in checkpoints/rank{r}/), model.ffm, report.html with loss.png,
/// finished.json, and run.lock while a process owns it. Every trainer writes through this one type.
/// </summary>
/// <remarks>Not thread-safe; one instance per process of a run.</remarks>
public sealed class RunFolder(string path, int rank = 0)
{
    private const string CheckpointPattern = "step_*.ckpt";

    /// <summary>The folder (absolute).</summary>
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>The effective config.</summary>
    public string ConfigPath => File("config.json");

    /// <summary>One JSON line per report: step, epoch, loss, lr, images_per_second, skipped and the trainer's own metrics.</summary>
    public string MetricsPath => File("metrics.jsonl");

    /// <summary>The trained model.</summary>
    public string ModelPath => File("model.ffm");

    /// <summary>Written when the planned steps are all done.</summary>
    public string FinishedPath => File("finished.json");

    /// <summary>Names the process that owns the folder while it trains.</summary>
    public string LockPath => File("run.lock");

    /// <summary>This process's checkpoint folder.</summary>
    public string CheckpointDirectory => rank == 0 ? File("checkpoints") : System.IO.Path.Combine(Path, "checkpoints", $"rank{rank}");

    /// <summary>The checkpoint file of <paramref name="step"/>.</summary>
    public string CheckpointPath(int step) => System.IO.Path.Combine(CheckpointDirectory, $"step_{step:D8}.ckpt");

    /// <summary>This process's checkpoints, oldest first.</summary>
    public IReadOnlyList<string> Checkpoints() => Directory.Exists(CheckpointDirectory)
        ? Directory.GetFiles(CheckpointDirectory, CheckpointPattern).Order(StringComparer.Ordinal).ToList() : [];

    /// <summary>The newest checkpoint, or null.</summary>
    public string? LatestCheckpoint() => Checkpoints().LastOrDefault();

    /// <summary>What the folder holds now (ownership is <see cref="Acquire"/>'s business).</summary>
    public RunFolderState State => System.IO.File.Exists(FinishedPath) ? RunFolderState.Finished
        : LatestCheckpoint() is not null ? RunFolderState.Started : RunFolderState.Empty;

    /// <summary>
    /// Takes the folder for this process: writes run.lock with its pid. Refused while another live process owns it;
    /// a lock left by a dead process is taken over. Dispose the result to release it.
    /// </summary>
    /// <exception cref="RunFolderConflictException">Another live process owns the folder, or the path is a file.</exception>
    public IDisposable Acquire()
    {
        if (System.IO.File.Exists(Path)) throw new RunFolderConflictException(Path, RunConflict.NotAFolder, $"'{Path}' is a file, not a run folder.");
        try
        {
            return OwnerLock.Acquire(LockPath);
        }
        catch (LockedException e)
        {
            throw new RunFolderConflictException(Path, RunConflict.Locked, $"'{Path}' is in use by {(e.Pid is int pid ? $"process {pid}" : "another process")} (run.lock); wait for it to end, or stop it.");
        }
    }

    /// <summary>The names of the run files the folder holds (model.ffm, config.json, metrics.jsonl, finished.json): what a restart would overwrite.</summary>
    public IReadOnlyList<string> RunFiles() =>
        new[] { ModelPath, ConfigPath, MetricsPath, FinishedPath }.Where(System.IO.File.Exists).Select(System.IO.Path.GetFileName).OfType<string>().ToList();

    /// <summary>Deletes what a previous run left (this process's checkpoints; process 0 also metrics and finished.json), for a run that starts over.</summary>
    public void Clear()
    {
        foreach (string checkpoint in Checkpoints()) System.IO.File.Delete(checkpoint);
        if (rank != 0) return;
        foreach (string file in new[] { MetricsPath, FinishedPath }) System.IO.File.Delete(file);
    }

    /// <summary>Deletes half-written temporary files that an interrupted checkpoint write left behind.</summary>
    public void RemoveTemporaryFiles()
    {
        if (!Directory.Exists(CheckpointDirectory)) return;
        foreach (string temporary in Directory.GetFiles(CheckpointDirectory, ".*.tmp")) System.IO.File.Delete(temporary);
    }

    /// <summary>Keeps the newest <paramref name="keep"/> checkpoints (the last may be the only copy if the disk fills while writing the next).</summary>
    public void PruneCheckpoints(int keep = 2)
    {
        foreach (string old in Checkpoints().SkipLast(keep)) System.IO.File.Delete(old);
    }

    /// <summary>
    /// Keeps the metric lines up to <paramref name="step"/> (a resumed run rewrites the later ones) and drops a torn
    /// last line (what a kill or a full disk leaves).
    /// </summary>
    public void TrimMetrics(int step)
    {
        if (!System.IO.File.Exists(MetricsPath)) return;
        var kept = ReadMetrics().Where(line => line.Step <= step).Select(line => line.Json).ToList();
        AtomicFile.WriteAllText(MetricsPath, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
    }

    /// <summary>The (step, loss) curve of the whole run, earlier sessions included.</summary>
    public List<(double Step, double Loss)> LossCurve() =>
        ReadMetrics().Where(line => line.Loss is not null).Select(line => ((double)line.Step, line.Loss!.Value)).ToList();

    /// <summary>The metric lines that parse (a torn line is skipped).</summary>
    private IEnumerable<(int Step, double? Loss, string Json)> ReadMetrics()
    {
        if (!System.IO.File.Exists(MetricsPath)) yield break;
        foreach (string line in System.IO.File.ReadLines(MetricsPath))
        {
            int step;
            double? loss = null;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (!doc.RootElement.TryGetProperty("step", out var s) || !s.TryGetInt32(out step)) continue;
                if (doc.RootElement.TryGetProperty("loss", out var l) && l.ValueKind == JsonValueKind.Number) loss = l.GetDouble();
            }
            catch (JsonException)
            {
                continue;
            }
            yield return (step, loss, line);
        }
    }

    private string File(string name) => System.IO.Path.Combine(Path, name);
}

/// <summary>A run cannot start in a folder (<see cref="RunConflict"/> says why).</summary>
public sealed class RunFolderConflictException(string folder, RunConflict reason, string message) : InvalidOperationException(message)
{
    /// <summary>The folder.</summary>
    public string Folder { get; } = folder;

    /// <summary>Why.</summary>
    public RunConflict Reason { get; } = reason;
}
