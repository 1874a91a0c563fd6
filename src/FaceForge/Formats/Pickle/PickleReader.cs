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
    private static readonly object Mark = new();

    /// <summary>Reads one pickle from the current position of <paramref name="stream"/>, leaving it just past STOP.</summary>
    /// <exception cref="InvalidDataException">Unknown opcode or truncated data; the message names the source, opcode and offset.</exception>
    public static object? Read(Stream stream, string name)
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            while (true)
            {
                long offset = stream.Position;
                byte op = reader.ReadByte();
                switch (op)
                {
                    case 0x80: reader.ReadByte(); break; // PROTO
                    case 0x95: reader.ReadInt64(); break; // FRAME
                    case (byte)'.': return Pop(stack, name, offset); // STOP
                    case (byte)'(': stack.Add(Mark); break;
                    case (byte)'}': stack.Add(new Dictionary<object, object?>()); break;
                    case (byte)']': stack.Add(new List<object?>()); break;
                    case (byte)')': stack.Add(Array.Empty<object?>()); break;
                    case 0x8f: stack.Add(new HashSet<object>()); break; // EMPTY_SET
                    case (byte)'N': stack.Add(null); break;
                    case 0x88: stack.Add(true); break;
                    case 0x89: stack.Add(false); break;
                    case (byte)'J': stack.Add((long)reader.ReadInt32()); break;
                    case (byte)'K': stack.Add((long)reader.ReadByte()); break;
                    case (byte)'M': stack.Add((long)reader.ReadUInt16()); break;
                    case 0x8a: stack.Add(ReadLong(reader.ReadBytes(reader.ReadByte()))); break; // LONG1
                    case 0x8b: stack.Add(ReadLong(reader.ReadBytes(reader.ReadInt32()))); break; // LONG4
                    case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(ReadExactly(reader, 8, name, offset))); break;
                    case (byte)'X': stack.Add(Encoding.UTF8.GetString(ReadExactly(reader, reader.ReadInt32(), name, offset))); break;
                    case 0x8c: stack.Add(Encoding.UTF8.GetString(ReadExactly(reader, reader.ReadByte(), name, offset))); break;
                    case 0x8d: stack.Add(Encoding.UTF8.GetString(ReadExactly(reader, checked((int)reader.ReadInt64()), name, offset))); break;
                    case (byte)'U': stack.Add(ReadExactly(reader, reader.ReadByte(), name, offset)); break; // SHORT_BINSTRING
                    case (byte)'T': stack.Add(ReadExactly(reader, reader.ReadInt32(), name, offset)); break; // BINSTRING
                    case (byte)'C': stack.Add(ReadExactly(reader, reader.ReadByte(), name, offset)); break; // SHORT_BINBYTES
                    case (byte)'B': stack.Add(ReadExactly(reader, reader.ReadInt32(), name, offset)); break; // BINBYTES
                    case 0x8e: stack.Add(ReadExactly(reader, checked((int)reader.ReadInt64()), name, offset)); break; // BINBYTES8
                    case (byte)'q': memo[reader.ReadByte()] = Peek(stack, name, offset); break;
                    case (byte)'r': memo[reader.ReadUInt32()] = Peek(stack, name, offset); break;
                    case 0x94: memo[memo.Count] = Peek(stack, name, offset); break; // MEMOIZE
                    case (byte)'h': stack.Add(Recall(memo, reader.ReadByte(), name, offset)); break;
                    case (byte)'j': stack.Add(Recall(memo, reader.ReadUInt32(), name, offset)); break;
                    case (byte)'t': stack.Add(PopToMark(stack, name, offset).ToArray()); break;
                    case 0x85: stack.Add(new[] { Pop(stack, name, offset) }); break;
                    case 0x86: { var b = Pop(stack, name, offset); var a = Pop(stack, name, offset); stack.Add(new[] { a, b }); break; }
                    case 0x87: { var c = Pop(stack, name, offset); var b = Pop(stack, name, offset); var a = Pop(stack, name, offset); stack.Add(new[] { a, b, c }); break; }
                    case (byte)'a': { var v = Pop(stack, name, offset); AsList(Peek(stack, name, offset), name, offset).Add(v); break; }
                    case (byte)'e': { var items = PopToMark(stack, name, offset); AsList(Peek(stack, name, offset), name, offset).AddRange(items); break; }
                    case (byte)'s': { var v = Pop(stack, name, offset); var k = Pop(stack, name, offset); AsDict(Peek(stack, name, offset), name, offset)[Key(k)] = v; break; }
                    case (byte)'u':
                        {
                            var items = PopToMark(stack, name, offset);
                            var dict = AsDict(Peek(stack, name, offset), name, offset);
                            for (int i = 0; i + 1 < items.Count; i += 2) dict[Key(items[i])] = items[i + 1];
                            break;
                        }
                    case 0x90: // ADDITEMS
                        {
                            var items = PopToMark(stack, name, offset);
                            if (Peek(stack, name, offset) is HashSet<object> set) foreach (var i in items) set.Add(Key(i));
                            break;
                        }
                    case (byte)'c':
                        {
                            string module = ReadLine(reader), global = ReadLine(reader);
                            stack.Add(new PickleGlobal(module, global));
                            break;
                        }
                    case 0x93: // STACK_GLOBAL
                        {
                            var global = Pop(stack, name, offset) as string; var module = Pop(stack, name, offset) as string;
                            stack.Add(new PickleGlobal(module ?? "?", global ?? "?"));
                            break;
                        }
                    case (byte)'R':
                    case 0x81: // NEWOBJ: cls.__new__(cls, *args), treated like a call
                        {
                            var args = Pop(stack, name, offset) as object?[] ?? throw Bad(name, op, offset, "arguments are not a tuple");
                            var callable = Pop(stack, name, offset) as PickleGlobal ?? throw Bad(name, op, offset, "callable is not a global");
                            stack.Add(Call(callable, args));
                            break;
                        }
                    case (byte)'Q': stack.Add(new PicklePersistentId(Pop(stack, name, offset))); break;
                    case (byte)'b':
                        {
                            var state = Pop(stack, name, offset);
                            // BUILD sets attributes (e.g. a state dict's _metadata), never dictionary items.
                            if (Peek(stack, name, offset) is PickleCall call) call.State = state;
                            break;
                        }
                    default:
                        throw Bad(name, op, offset, "unsupported pickle opcode");
                }
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{name}: pickle ends early at byte {stream.Position} (file truncated?).", e);
        }
    }

    private static object? Call(PickleGlobal callable, object?[] args)
    {
        if (callable.Module == "collections" && callable.Name == "OrderedDict")
            return new Dictionary<object, object?>();
        if (callable.Module is "__builtin__" or "builtins" && callable.Name == "set" && args.Length == 1 && args[0] is List<object?> items)
            return new HashSet<object>(items.Select(Key));
        return new PickleCall(callable, args);
    }

    private static object ReadLong(byte[] bytes)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    private static byte[] ReadExactly(BinaryReader reader, int count, string name, long offset)
    {
        if (count < 0) throw Bad(name, 0, offset, $"negative length {count}");
        var bytes = reader.ReadBytes(count);
        if (bytes.Length != count) throw new EndOfStreamException();
        return bytes;
    }

    private static string ReadLine(BinaryReader reader)
    {
        var text = new StringBuilder();
        for (char c; (c = (char)reader.ReadByte()) != '\n';) text.Append(c);
        return text.ToString();
    }

    private static object Key(object? key) => key switch
    {
        null => "None",
        object?[] tuple => string.Join(",", tuple),
        byte[] bytes => Encoding.Latin1.GetString(bytes),
        _ => key,
    };

    private static object? Recall(Dictionary<long, object?> memo, long index, string name, long offset) =>
        memo.TryGetValue(index, out var value) ? value : throw Bad(name, 0, offset, $"memo entry {index} was never stored");

    private static object? Pop(List<object?> stack, string name, long offset)
    {
        if (stack.Count == 0 || ReferenceEquals(stack[^1], Mark)) throw Bad(name, 0, offset, "stack underflow");
        var value = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private static object? Peek(List<object?> stack, string name, long offset) =>
        stack.Count == 0 ? throw Bad(name, 0, offset, "stack underflow") : stack[^1];

    private static List<object?> PopToMark(List<object?> stack, string name, long offset)
    {
        int mark = stack.FindLastIndex(x => ReferenceEquals(x, Mark));
        if (mark < 0) throw Bad(name, 0, offset, "no MARK on the stack");
        var items = stack.GetRange(mark + 1, stack.Count - mark - 1);
        stack.RemoveRange(mark, stack.Count - mark);
        return items;
    }

    private static List<object?> AsList(object? value, string name, long offset) =>
        value as List<object?> ?? throw Bad(name, 0, offset, "APPEND target is not a list");

    private static Dictionary<object, object?> AsDict(object? value, string name, long offset) => value switch
    {
        Dictionary<object, object?> d => d,
        PickleCall call => (Dictionary<object, object?>)(call.State ??= new Dictionary<object, object?>()),
        _ => throw Bad(name, 0, offset, "SETITEM target is not a dict"),
    };

    private static InvalidDataException Bad(string name, byte op, long offset, string what) =>
        new($"{name}: {what} (opcode 0x{op:x2} at byte {offset}).");
}
