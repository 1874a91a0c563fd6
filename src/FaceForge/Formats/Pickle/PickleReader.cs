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
/// <remarks>A class, not a record: equality and hashing by reference, so a chain of ids nested a million deep (a
/// hostile dict key) is never hashed or printed recursively.</remarks>
public sealed class PicklePersistentId(object? id)
{
    /// <summary>The id object (PyTorch: a tuple ('storage', type, key, location, elements[, view])).</summary>
    public object? Id { get; } = id;
}

/// <summary>
/// Reads one Python pickle (protocols 2 to 5, the subset PyTorch checkpoints and InsightFace .bin sets use) into
/// plain .NET values: null, bool, long or BigInteger, double, string, byte[] (bytes and Python 2 str),
/// List&lt;object?&gt; (list), object?[] (tuple), Dictionary&lt;object, object?&gt; (dict and OrderedDict, in insertion
/// order), HashSet&lt;object&gt; (set), and <see cref="PickleCall"/>, <see cref="PickleGlobal"/>,
/// <see cref="PicklePersistentId"/> for the rest.
/// Nothing is ever executed.
/// </summary>
public static class PickleReader
{
    /// <summary>How deep callers walking a read object graph may nest before calling it hostile (cycles never end).</summary>
    public const int MaxDepth = 1000;

    private const int MaxGlobalName = 4096;

    /// <summary>Values one pickle may create: a state dict makes tens of thousands; one byte per empty list would otherwise reach gigabytes.</summary>
    public const int MaxObjects = 20_000_000;
    private static readonly object Mark = new();

    /// <summary>Reads one pickle from the current position of a seekable <paramref name="stream"/>, leaving it just past STOP.</summary>
    /// <remarks>
    /// Every length is checked against the bytes left in the stream before anything is allocated, so a header claiming
    /// gigabytes fails with a message, and at most <see cref="MaxObjects"/> values are made. The stack machine itself
    /// does not recurse: deep (or cyclic, through the memo) structures are read, and whoever walks them must bound the
    /// depth (<see cref="MaxDepth"/>).
    /// </remarks>
    /// <exception cref="InvalidDataException">Unknown opcode, impossible length or structure, or truncated data; the message names the source and the offset.</exception>
    public static object? Read(Stream stream, string name) =>
        stream.CanSeek ? new Machine(stream, name).Run() : throw new ArgumentException("The pickle reader needs a seekable stream (it checks lengths against what is left).", nameof(stream));

    /// <summary>The unpickler's state for one pickle.</summary>
    private sealed class Machine(Stream stream, string name)
    {
        private readonly BinaryReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);
        private readonly List<object?> _stack = [];
        private readonly Dictionary<long, object?> _memo = [];
        private byte _op;
        private long _objects;
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
                case 0x80: if (_reader.ReadByte() > 5) throw Bad("pickle protocol above 5"); break; // PROTO
                case 0x95: _reader.ReadUInt64(); break; // FRAME: only a hint for buffering
                case (byte)'(': Push(Mark); break;
                case (byte)'}': Push(new Dictionary<object, object?>()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case 0x8f: Push(new HashSet<object>()); break; // EMPTY_SET
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)_reader.ReadInt32()); break;
                case (byte)'K': Push((long)_reader.ReadByte()); break;
                case (byte)'M': Push((long)_reader.ReadUInt16()); break;
                case 0x8a: Push(ReadLong(Bytes(_reader.ReadByte()))); break; // LONG1
                case 0x8b: Push(ReadLong(Bytes(_reader.ReadInt32()))); break; // LONG4 (signed length)
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
                case (byte)'X': Push(Encoding.UTF8.GetString(Bytes(_reader.ReadUInt32()))); break; // BINUNICODE
                case 0x8c: Push(Encoding.UTF8.GetString(Bytes(_reader.ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Encoding.UTF8.GetString(Bytes(_reader.ReadUInt64()))); break; // BINUNICODE8
                case (byte)'U': Push(Bytes(_reader.ReadByte())); break; // SHORT_BINSTRING
                case (byte)'T': Push(Bytes(_reader.ReadInt32())); break; // BINSTRING (signed length)
                case (byte)'C': Push(Bytes(_reader.ReadByte())); break; // SHORT_BINBYTES
                case (byte)'B': Push(Bytes(_reader.ReadUInt32())); break; // BINBYTES
                case 0x8e: Push(Bytes(_reader.ReadUInt64())); break; // BINBYTES8
                case (byte)'q': _memo[_reader.ReadByte()] = Peek(); break;
                case (byte)'r': _memo[_reader.ReadUInt32()] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(Recall(_reader.ReadByte())); break;
                case (byte)'j': Push(Recall(_reader.ReadUInt32())); break;
                case (byte)'t': Push(PopToMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; }
                case (byte)'e': { var items = PopToMark(); AsList(Peek()).AddRange(items); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek())[Key(k)] = v; break; }
                case (byte)'u':
                    {
                        var items = PopToMark();
                        var dict = AsDict(Peek());
                        if (items.Count % 2 != 0) throw Bad("SETITEMS with a key but no value");
                        for (int i = 0; i < items.Count; i += 2) dict[Key(items[i])] = items[i + 1];
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
                        Push(new PickleGlobal(module, global));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        if (Pop() is not string global || Pop() is not string module) throw Bad("STACK_GLOBAL names are not strings");
                        Push(new PickleGlobal(module, global));
                        break;
                    }
                case (byte)'R':
                case 0x81: // NEWOBJ: cls.__new__(cls, *args), treated like a call
                    {
                        var args = Pop() as object?[] ?? throw Bad("arguments are not a tuple");
                        var callable = Pop() as PickleGlobal ?? throw Bad("callable is not a global");
                        Push(Call(callable, args));
                        break;
                    }
                case (byte)'Q': Push(new PicklePersistentId(Pop())); break;
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

        private void Push(object? value)
        {
            if (++_objects > MaxObjects) throw Bad($"more than {MaxObjects} values: not a checkpoint or verification set FaceForge reads");
            _stack.Add(value);
        }

        /// <summary>Reads a string or bytes of a claimed length, refused before allocation when the stream cannot hold it.</summary>
        private byte[] Bytes(long count)
        {
            if (count < 0) throw Bad($"negative length {count}");
            long left = stream.Length - stream.Position;
            if (count > left || count > Array.MaxLength)
                throw Bad($"a value claims {count} bytes, but only {left} follow (damaged or truncated file?)");
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
            var value = Peek();
            _stack.RemoveAt(_stack.Count - 1);
            return value;
        }

        private object? Peek() => _stack.Count == 0 || ReferenceEquals(_stack[^1], Mark) ? throw Bad("stack underflow") : _stack[^1];

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
