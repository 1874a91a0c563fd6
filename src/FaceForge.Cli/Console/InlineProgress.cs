namespace FaceForge.Cli;

/// <summary>Forwards reports on the reporting thread (Progress&lt;T&gt; would post them to the thread pool and lag).</summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
