namespace FaceForge.Models;

/// <summary>
/// Lets the calls that use a native session finish before <see cref="IDisposable.Dispose"/> frees it: freeing an ONNX
/// Runtime session under a running call crashes the process. Calls after the close throw
/// <see cref="ObjectDisposedException"/>. Thread-safe; calls may nest.
/// </summary>
internal sealed class SessionGate(string owner, string location)
{
    private readonly object _gate = new();
    private int _active;
    private bool _closed;

    /// <summary>Marks a call in flight until the returned scope is disposed.</summary>
    /// <exception cref="ObjectDisposedException">The owner was disposed.</exception>
    public Scope Enter()
    {
        lock (_gate)
        {
            if (_closed) throw new ObjectDisposedException(owner, $"{location}: the {owner} is closed (disposed).");
            _active++;
        }
        return new Scope(this);
    }

    /// <summary>Refuses new calls and waits for those in flight; true the first time (the caller then frees the session).</summary>
    public bool Close()
    {
        lock (_gate)
        {
            if (_closed) return false;
            _closed = true;
            while (_active > 0) Monitor.Wait(_gate);
            return true;
        }
    }

    private void Exit()
    {
        lock (_gate)
        {
            if (--_active == 0) Monitor.PulseAll(_gate);
        }
    }

    /// <summary>One call in flight.</summary>
    public readonly struct Scope(SessionGate gate) : IDisposable
    {
        /// <inheritdoc/>
        public void Dispose() => gate.Exit();
    }
}
