using Spectre.Console;
using Spectre.Console.Rendering;

namespace FaceForge.Cli;

/// <summary>
/// Progress bars with rate and ETA on the invocation's error writer (standard error), so standard output stays clean
/// for results and JSON. One reporter per command invocation; bars of one reporter run one at a time.
/// </summary>
internal sealed class ProgressReporter(TextWriter error)
{
    private readonly IAnsiConsole _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) });

    /// <summary>Runs <paramref name="work"/> with a bar counting to <paramref name="total"/> items.</summary>
    public T Run<T>(string description, int total, string unit, Func<IProgress<int>, T> work)
    {
        T result = default!;
        Bars(unit).Start(context =>
            {
                var task = context.AddTask(description, maxValue: Math.Max(1, total));
                var progress = new SynchronousProgress(done => task.Value = done);
                result = work(progress);
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Runs <paramref name="work"/> with a bar whose value, total and caption the work sets through its callback.</summary>
    public T RunWithCaption<T>(string description, string unit, Func<Action<int, int, string>, T> work)
    {
        T result = default!;
        Bars(unit).Start(context =>
            {
                var task = context.AddTask(description);
                result = work((done, total, caption) =>
                {
                    task.MaxValue = Math.Max(1, total);
                    task.Value = done;
                    task.Description = $"{description} {Markup.Escape(caption)}";
                });
            });
        return result;
    }

    /// <summary>Prints a one-line warning on the error writer.</summary>
    public void Warn(string message) => error.WriteLine($"warning: {message}");

    /// <summary>A one-line warning that ends by naming the first few of <paramref name="names"/> (images, files).</summary>
    public void Warn(string message, IReadOnlyCollection<string> names) => Warn($"{message}: {FirstFew(names, ", ")}");

    /// <summary>The first five of <paramref name="names"/> joined by <paramref name="separator"/>, and "…" when there are more: a line stays a line.</summary>
    public static string FirstFew(IReadOnlyCollection<string> names, string separator) =>
        string.Join(separator, names.Take(5)) + (names.Count > 5 ? separator + "…" : "");

    /// <summary>Where progress, warnings and notes go (stderr).</summary>
    public TextWriter Error => error;

    /// <summary>Runs <paramref name="work"/> with a bar and no result.</summary>
    public void Run(string description, int total, string unit, Action<IProgress<int>> work) =>
        Run<object?>(description, total, unit, p => { work(p); return null; });

    private Progress Bars(string unit) => _console.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(unit), new RemainingTimeColumn(), new SpinnerColumn());

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to a thread pool and lag).</summary>
    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        private int _max;

        public void Report(int value)
        {
            // Workers finish out of order; the bar only moves forward.
            int seen;
            while (value > (seen = Volatile.Read(ref _max)))
            {
                if (Interlocked.CompareExchange(ref _max, value, seen) == seen) { report(value); break; }
            }
        }
    }

    private sealed class RateColumn(string unit) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Markup(task.Speed is double speed ? $"[grey]{speed:0.0} {unit}/s[/]" : "[grey]–[/]");
    }
}
