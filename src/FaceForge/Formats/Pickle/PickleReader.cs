using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace FaceForge.Formats.Pickle;

/// <summary>A global (module and name) referenced by a pickle, e.g. torch._utils._rebuild_tensor_v2.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A call of a global with arguments (REDUCE), with the state set by BUILD if any.</summary>
public sealed class PickleCall(PickleGlobal callable, object?[] arguments)
{
    /// <summary>What is called.</summary>
    public PickleGlobal Callable { get; } = callable;

    /// <summary>The argument tuple.</summary>
    public object?[] Arguments { get; } = arguments;

    /// <summary>State applied by BUILD, or null.</summary>
    public object? State { get; set; }
}

/// <summary>A persistent id (BINPERSID), used by PyTorch to reference tensor storages.</summary>
public sealed record PicklePersistentId(object? Id);

/// <summary>
/// Reads one Python pickle (protocols 2 to 5, the subset PyTorch checkpoints and InsightFace .bin sets use) into
/// plain .NET values: null, bool, long or BigInteger, double, string, byte[] (bytes and Python 2 str),
/// List&lt;object?&gt; (list), object?[] (tuple), Dictionary&lt;object, object?&gt; (dict and OrderedDict, in insertion
/// order), and <see cref="PickleCall"/>, <see cref="PickleGlobal"/>, <see cref="PicklePersistentId"/> for the rest.
/// Nothing is ever executed.
/// </summary>
public static class PickleReader
{
    /// <summary>How deep callers walking a read object graph may nest before calling it hostile (cycles never end).</summary>
    public const int MaxDepth = 1000;

    private const int MaxGlobalName = 4096;
    private static readonly object Mark = new();

    /// <summary>Reads one pickle from the current position of <paramref name="stream"/>, leaving it just past STOP.</summary>
    /// <remarks>
    /// Every length is checked against the bytes left in a seekable stream before anything is allocated, so a header
    /// claiming gigabytes fails with a message. The stack machine itself does not recurse: arbitrarily deep (or
    /// cyclic, through the memo) structures read fine, and whoever walks them must bound the depth (<see cref="MaxDepth"/>).
    /// </remarks>
    /// <exception cref="InvalidDataException">Unknown opcode, impossible length or truncated data; the message names the source, opcode and offset.</exception>
    public static object? Read(Stream stream, string name) => new Machine(stream, name).Run();

    /// <summary>The unpickler's state for one pickle.</summary>
    private sealed class Machine(Stream stream, string name)
    {
        private readonly BinaryReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);
        private readonly List<object?> _stack = [];
        private readonly Dictionary<long, object?> _memo = [];
        private byte _op;
        private long _offset;

        public object? Run()
        {
            try
            {
                while (true)
                {
                    _offset = stream.Position;
                    _op = _reader.ReadByte();
                    if (_op == (byte)'.') return Pop(); // STOP
                    Step();
                }
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"{name}: pickle ends early at byte {stream.Position} (file truncated?).", e);
            }
        }

        private void Step()
        {
            switch (_op)
            {
                case 0x80: _reader.ReadByte(); break; // PROTO
                case 0x95: _reader.ReadUInt64(); break; // FRAME: only a hint for buffering
                case (byte)'(': _stack.Add(Mark); break;
                case (byte)'}': _stack.Add(new Dictionary<object, object?>()); break;
                case (byte)']': _stack.Add(new List<object?>()); break;
                case (byte)')': _stack.Add(Array.Empty<object?>()); break;
                case 0x8f: _stack.Add(new HashSet<object>()); break; // EMPTY_SET
                case (byte)'N': _stack.Add(null); break;
                case 0x88: _stack.Add(true); break;
                case 0x89: _stack.Add(false); break;
                case (byte)'J': _stack.Add((long)_reader.ReadInt32()); break;
                case (byte)'K': _stack.Add((long)_reader.ReadByte()); break;
                case (byte)'M': _stack.Add((long)_reader.ReadUInt16()); break;
                case 0x8a: _stack.Add(ReadLong(Bytes(_reader.ReadByte()))); break; // LONG1
                case 0x8b: _stack.Add(ReadLong(Bytes(_reader.ReadInt32()))); break; // LONG4 (signed length)
                case (byte)'G': _stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
                case (byte)'X': _stack.Add(Encoding.UTF8.GetString(Bytes(_reader.ReadUInt32()))); break; // BINUNICODE
                case 0x8c: _stack.Add(Encoding.UTF8.GetString(Bytes(_reader.ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: _stack.Add(Encoding.UTF8.GetString(Bytes(_reader.ReadUInt64()))); break; // BINUNICODE8
                case (byte)'U': _stack.Add(Bytes(_reader.ReadByte())); break; // SHORT_BINSTRING
                case (byte)'T': _stack.Add(Bytes(_reader.ReadInt32())); break; // BINSTRING (signed length)
                case (byte)'C': _stack.Add(Bytes(_reader.ReadByte())); break; // SHORT_BINBYTES
                case (byte)'B': _stack.Add(Bytes(_reader.ReadUInt32())); break; // BINBYTES
                case 0x8e: _stack.Add(Bytes(_reader.ReadUInt64())); break; // BINBYTES8
                case (byte)'q': _memo[_reader.ReadByte()] = Peek(); break;
                case (byte)'r': _memo[_reader.ReadUInt32()] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': _stack.Add(Recall(_reader.ReadByte())); break;
                case (byte)'j': _stack.Add(Recall(_reader.ReadUInt32())); break;
                case (byte)'t': _stack.Add(PopToMark().ToArray()); break;
                case 0x85: _stack.Add(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); _stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); _stack.Add(new[] { a, b, c }); break; }
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; }
                case (byte)'e': { var items = PopToMark(); AsList(Peek()).AddRange(items); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek())[Key(k)] = v; break; }
                case (byte)'u':
                    {
                        var items = PopToMark();
                        var dict = AsDict(Peek());
                        for (int i = 0; i + 1 < items.Count; i += 2) dict[Key(items[i])] = items[i + 1];
                        break;
                    }
                case 0x90: // ADDITEMS
                    {
                        var items = PopToMark();
                        if (Peek() is HashSet<object> set) foreach (var i in items) set.Add(Key(i));
                        break;
                    }
                case (byte)'c':
                    {
                        string module = ReadLine(), global = ReadLine();
                        _stack.Add(new PickleGlobal(module, global));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        var global = Pop() as string; var module = Pop() as string;
                        _stack.Add(new PickleGlobal(module ?? "?", global ?? "?"));
                        break;
                    }
                case (byte)'R':
                case 0x81: // NEWOBJ: cls.__new__(cls, *args), treated like a call
                    {
                        var args = Pop() as object?[] ?? throw Bad("arguments are not a tuple");
                        var callable = Pop() as PickleGlobal ?? throw Bad("callable is not a global");
                        _stack.Add(Call(callable, args));
                        break;
                    }
                case (byte)'Q': _stack.Add(new PicklePersistentId(Pop())); break;
                case (byte)'b':
                    {
                        var state = Pop();
                        // BUILD sets attributes (e.g. a state dict's _metadata), never dictionary items.
                        if (Peek() is PickleCall call) call.State = state;
                        break;
                    }
                default:
                    throw Bad("unsupported pickle opcode");
            }
        }

        /// <summary>Reads a string or bytes of a claimed length, refused before allocation when the stream cannot hold it.</summary>
        private byte[] Bytes(long count)
        {
            if (count < 0) throw Bad($"negative length {count}");
            long left = stream.CanSeek ? stream.Length - stream.Position : long.MaxValue;
            if (count > left || count > Array.MaxLength)
                throw Bad($"a value claims {count} bytes{(stream.CanSeek ? $", but only {left} follow" : "")} (damaged or truncated file?)");
            var bytes = _reader.ReadBytes((int)count);
            if (bytes.Length != count) throw new EndOfStreamException();
            return bytes;
        }

        private byte[] Bytes(ulong count) => count > long.MaxValue ? throw Bad($"a value claims {count} bytes") : Bytes((long)count);

        private string ReadLine()
        {
            var text = new StringBuilder();
            for (char c; (c = (char)_reader.ReadByte()) != '\n';)
                if (text.Append(c).Length > MaxGlobalName) throw Bad($"a global's name runs past {MaxGlobalName} characters");
            return text.ToString();
        }

        private object? Recall(long index) =>
            _memo.TryGetValue(index, out var value) ? value : throw Bad($"memo entry {index} was never stored");

        private object? Pop()
        {
            if (_stack.Count == 0 || ReferenceEquals(_stack[^1], Mark)) throw Bad("stack underflow");
            var value = _stack[^1];
            _stack.RemoveAt(_stack.Count - 1);
            return value;
        }

        private object? Peek() => _stack.Count == 0 ? throw Bad("stack underflow") : _stack[^1];

        private List<object?> PopToMark()
        {
            int mark = _stack.FindLastIndex(x => ReferenceEquals(x, Mark));
            if (mark < 0) throw Bad("no MARK on the stack");
            var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
            _stack.RemoveRange(mark, _stack.Count - mark);
            return items;
        }

        private List<object?> AsList(object? value) => value as List<object?> ?? throw Bad("APPEND target is not a list");

        private Dictionary<object, object?> AsDict(object? value) => value switch
        {
            Dictionary<object, object?> d => d,
            PickleCall call => call.State switch
            {
                null => (Dictionary<object, object?>)(call.State = new Dictionary<object, object?>()),
                Dictionary<object, object?> d => d,
                _ => throw Bad("SETITEM target's state is not a dict"),
            },
            _ => throw Bad("SETITEM target is not a dict"),
        };

        private InvalidDataException Bad(string what) => new($"{name}: {what} (opcode 0x{_op:x2} at byte {_offset}).");
    }

    private static object? Call(PickleGlobal callable, object?[] args)
    {
        if (callable.Module == "collections" && callable.Name == "OrderedDict")
            return new Dictionary<object, object?>();
        if (callable.Module is "__builtin__" or "builtins" && callable.Name == "set" && args.Length == 1 && args[0] is List<object?> items)
            return new HashSet<object>(items.Select(Key));
        // Python 3 pickles bytes at protocol 2 as _codecs.encode(text, 'latin1'): the text's code points are the bytes.
        if (callable.Module == "_codecs" && callable.Name == "encode" && args is [string text, string encoding]
            && encoding.Replace("-", "").Equals("latin1", StringComparison.OrdinalIgnoreCase) && text.All(c => c <= 0xff))
            return Encoding.Latin1.GetBytes(text);
        return new PickleCall(callable, args);
    }

    private static object ReadLong(byte[] bytes)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    private static object Key(object? key) => key switch
    {
        null => "None",
        object?[] tuple => string.Join(",", tuple),
        byte[] bytes => Encoding.Latin1.GetString(bytes),
        _ => key,
    };
}
