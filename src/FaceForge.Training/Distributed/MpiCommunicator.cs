using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Distributed;

/// <summary>
/// Collectives across the processes of an <c>mpirun</c> launch, through Open MPI's C library (libmpi.so.40) bound
/// directly: the MPI.NET package targets Windows' MS-MPI only. Open MPI's handles (communicator, datatypes,
/// operations) are the addresses of exported globals such as <c>ompi_mpi_comm_world</c>, read with
/// <see cref="NativeLibrary.GetExport"/>. Tensors travel through managed copies: the tensors reduced here (features,
/// per-row statistics, backbone gradients) are small next to a training step's compute.
/// </summary>
/// <remarks>
/// One instance per process: MPI is initialised on construction and finalised on disposal, and cannot be
/// initialised again afterwards. Calls are serialised by a lock (MPI_THREAD_SERIALIZED).
/// </remarks>
public sealed class MpiCommunicator : ICommunicator
{
    private const int ThreadSerialized = 2;
    private const int RtldNow = 2, RtldGlobal = 0x100;
    private static readonly IntPtr InPlace = 1; // Open MPI's MPI_IN_PLACE
    private static int s_created;
    private readonly object _gate = new();
    private readonly IntPtr _world, _float, _int64, _byte, _sum, _max;
    private readonly Api _api;
    private bool _disposed;

    /// <summary>Initialises MPI. Outside <c>mpirun</c> this is a one-process world.</summary>
    /// <exception cref="DistributedUnavailableException">Open MPI's library is missing or fails to start.</exception>
    public MpiCommunicator()
    {
        if (Interlocked.Exchange(ref s_created, 1) == 1)
            throw new InvalidOperationException("MPI was already initialised in this process; create one MpiCommunicator per process.");
        IntPtr library = Load();
        IntPtr Export(string name) => NativeLibrary.TryGetExport(library, name, out var address) ? address
            : throw new DistributedUnavailableException($"libmpi.so.40 lacks '{name}': not Open MPI 4 or newer?");
        _api = new Api(Export);
        _world = Export("ompi_mpi_comm_world");
        _float = Export("ompi_mpi_float");
        _int64 = Export("ompi_mpi_int64_t");
        _byte = Export("ompi_mpi_byte");
        _sum = Export("ompi_mpi_op_sum");
        _max = Export("ompi_mpi_op_max");
        unsafe
        {
            int provided;
            Check(_api.InitThread(null, null, ThreadSerialized, &provided), "MPI_Init_thread");
            if (provided < ThreadSerialized)
                throw new DistributedUnavailableException($"Open MPI provides thread level {provided}; FaceForge needs MPI_THREAD_SERIALIZED ({ThreadSerialized}).");
            int rank, size;
            Check(_api.CommRank(_world, &rank), "MPI_Comm_rank");
            Check(_api.CommSize(_world, &size), "MPI_Comm_size");
            Rank = rank;
            Size = size;
        }
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <inheritdoc/>
    public Tensor AllGather(Tensor local)
    {
        var (bytes, type) = ToBytes(local);
        var gathered = new byte[bytes.Length * Size];
        unsafe
        {
            lock (_gate)
            {
                fixed (byte* send = bytes, receive = gathered)
                    Check(_api.Allgather(send, bytes.Length, _byte, receive, bytes.Length, _byte, _world), "MPI_Allgather");
            }
        }
        long[] shape = local.shape.ToArray();
        if (shape.Length == 0) shape = [1];
        shape[0] *= Size;
        return FromBytes(gathered, type, shape);
    }

    /// <inheritdoc/>
    public void AllReduce(Tensor tensor, ReduceOperation operation)
    {
        IntPtr op = operation == ReduceOperation.Sum ? _sum : _max;
        if (tensor.dtype == ScalarType.Float32) Reduce(tensor, _float, op);
        else if (tensor.dtype == ScalarType.Int64) Reduce(tensor, _int64, op);
        else throw new ArgumentException($"AllReduce supports float32 and int64 tensors, not {tensor.dtype}.", nameof(tensor));
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor tensor, int root = 0)
    {
        var (bytes, type) = ToBytes(tensor);
        unsafe
        {
            lock (_gate)
            {
                fixed (byte* buffer = bytes)
                    Check(_api.Bcast(buffer, bytes.Length, _byte, root, _world), "MPI_Bcast");
            }
        }
        using var value = FromBytes(bytes, type, tensor.shape);
        using var noGrad = torch.no_grad();
        tensor.copy_(value);
    }

    private unsafe void Reduce(Tensor tensor, IntPtr type, IntPtr op)
    {
        var (bytes, scalar) = ToBytes(tensor);
        lock (_gate)
        {
            fixed (byte* buffer = bytes)
                Check(_api.Allreduce((void*)InPlace, buffer, checked((int)tensor.numel()), type, op, _world), "MPI_Allreduce");
        }
        using var reduced = FromBytes(bytes, scalar, tensor.shape);
        using var noGrad = torch.no_grad();
        tensor.copy_(reduced);
    }

    private static (byte[] Bytes, ScalarType Type) ToBytes(Tensor tensor) => (tensor.contiguous().bytes.ToArray(), tensor.dtype);

    private static Tensor FromBytes(byte[] bytes, ScalarType type, long[] shape)
    {
        var result = torch.empty(shape, type);
        result.bytes = bytes;
        return result;
    }

    private static void Check(int code, string call)
    {
        if (code != 0) throw new DistributedUnavailableException($"{call} failed with MPI error code {code}.");
    }

    private static IntPtr Load()
    {
        // Open MPI loads its transports as plugins that expect libmpi's symbols to be global, as mpi4py does.
        foreach (string name in new[] { "libmpi.so.40", "libmpi.so" })
        {
            if (Dl.Open(name, RtldNow | RtldGlobal) != IntPtr.Zero && NativeLibrary.TryLoad(name, out var handle)) return handle;
        }
        throw new DistributedUnavailableException("Open MPI's libmpi.so.40 was not found; install it (Debian: apt-get install openmpi-bin libopenmpi-dev) and launch with mpirun.");
    }

    /// <summary>Ends every process of the run with <paramref name="exitCode"/> (after an error on this one, so that the others do not wait for it forever).</summary>
    public void Abort(int exitCode)
    {
        unsafe { _api.Abort(_world, exitCode); }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate) _api.Shutdown();
    }

    private static class Dl
    {
        [DllImport("libc.so.6", EntryPoint = "dlopen")]
        public static extern IntPtr Open([MarshalAs(UnmanagedType.LPStr)] string name, int flags);
    }

    /// <summary>The MPI entry points used, as unmanaged function pointers (Open MPI's ABI: handles are pointers).</summary>
    private sealed unsafe class Api(Func<string, IntPtr> export)
    {
        public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)export("MPI_Init_thread");
        public readonly delegate* unmanaged<IntPtr, int*, int> CommRank = (delegate* unmanaged<IntPtr, int*, int>)export("MPI_Comm_rank");
        public readonly delegate* unmanaged<IntPtr, int*, int> CommSize = (delegate* unmanaged<IntPtr, int*, int>)export("MPI_Comm_size");
        public readonly delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, IntPtr, int> Allgather = (delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, IntPtr, int>)export("MPI_Allgather");
        public readonly delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, int> Allreduce = (delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, int>)export("MPI_Allreduce");
        public readonly delegate* unmanaged<void*, int, IntPtr, int, IntPtr, int> Bcast = (delegate* unmanaged<void*, int, IntPtr, int, IntPtr, int>)export("MPI_Bcast");
        public readonly delegate* unmanaged<IntPtr, int, int> Abort = (delegate* unmanaged<IntPtr, int, int>)export("MPI_Abort");
        private readonly delegate* unmanaged<int> _finalize = (delegate* unmanaged<int>)export("MPI_Finalize");

        public void Shutdown() => _finalize();
    }
}

/// <summary>A distributed backend cannot be used; the message says why in one line.</summary>
public sealed class DistributedUnavailableException(string message) : Exception(message);
