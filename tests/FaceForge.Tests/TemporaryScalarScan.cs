using System.Reflection;
using System.Reflection.Emit;

namespace FaceForge.Tests;

/// <summary>
/// Reads an assembly's IL for TorchSharp Scalars that nothing keeps alive through the native call reading them
/// (docs/reliability.md): a number converted to a Scalar and passed straight on, a Scalar stored in a local that is
/// never disposed (the JIT may drop the local after its last read), and calls of TorchSharp methods that make such a
/// Scalar themselves (<c>a + b</c> passes alpha = 1, <c>x.square()</c> is <c>pow(2)</c>). A Scalar stored in a field, or in
/// a local a <c>using</c> disposes, is held.
/// </summary>
internal static class TemporaryScalarScan
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    private static readonly Assembly TorchSharpAssembly = typeof(TorchSharp.Scalar).Assembly;
    private static readonly Dictionary<MethodBase, bool> MakesOneInside = [];

    /// <summary>One line per offending call site: type::method, IL offset, and why.</summary>
    public static List<string> Find(Assembly assembly)
    {
        var found = new List<string>();
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t is not null).ToArray()!; }
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in types)
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                byte[]? il;
                // A body that references an assembly this process cannot load (the service's ASP.NET types) uses no TorchSharp.
                try { il = method.GetMethodBody()?.GetILAsByteArray(); }
                catch (FileNotFoundException) { continue; }
                if (il is null) continue;
                var instructions = Decode(il);
                for (int k = 0; k < instructions.Count; k++)
                {
                    if (Callee(method, instructions[k]) is not { } callee) continue;
                    string? why = null;
                    // TorchSharp's Scalar-to-Tensor conversion only throws; C# picks it silently where a Tensor is expected.
                    if (callee.DeclaringType == typeof(TorchSharp.torch.Tensor) && callee.Name == "op_Implicit"
                        && callee.GetParameters() is [{ ParameterType: var from }] && from == typeof(TorchSharp.Scalar))
                        why = "a Scalar passed where a Tensor is expected (TorchSharp throws)";
                    else if (IsScalarConversion(callee))
                    {
                        var next = k + 1 < instructions.Count ? instructions[k + 1] : default;
                        if (next.Op == OpCodes.Stsfld || next.Op == OpCodes.Stfld) continue;
                        if (LocalIndex(next) is int local) { if (Disposed(method, instructions, local)) continue; why = $"Scalar in local {local}, never disposed"; }
                        else why = "temporary Scalar";
                    }
                    else if (callee.DeclaringType?.Assembly == TorchSharpAssembly && MakesOne(callee, 0))
                        why = $"{callee.DeclaringType.Name}.{callee.Name} makes a temporary Scalar inside";
                    if (why is not null) found.Add($"{type.FullName}::{method.Name} IL_{instructions[k].Offset:x4}: {why}");
                }
            }
        return found;
    }

    /// <summary>
    /// Whether a TorchSharp module's forward makes a temporary Scalar: networks call it through <c>call</c>, a virtual
    /// dispatch the scan of call sites cannot follow (TorchSharp's BatchNorm does, through its step counter).
    /// </summary>
    public static bool ForwardMakesOne(Type module) =>
        module.Assembly == TorchSharpAssembly && module.GetMethods(BindingFlags.Public | BindingFlags.Instance).Any(m => m.Name == "forward" && MakesOne(m, 0));

    private static bool IsScalarConversion(MethodBase callee) =>
        (callee.DeclaringType == typeof(TorchSharp.Scalar) && callee.Name == "op_Implicit") || callee.Name == "ToScalar";

    /// <summary>Whether a TorchSharp method converts a number to a Scalar itself, directly or through the TorchSharp methods it calls.</summary>
    private static bool MakesOne(MethodBase method, int depth)
    {
        lock (MakesOneInside)
        {
            if (MakesOneInside.TryGetValue(method, out bool known)) return known;
            MakesOneInside[method] = false; // recursion guard
        }
        bool result = false;
        if (method.GetMethodBody()?.GetILAsByteArray() is { } il)
            foreach (var instruction in Decode(il))
                if (Callee(method, instruction) is { } callee
                    && (IsScalarConversion(callee) || (depth < 3 && callee.DeclaringType?.Assembly == TorchSharpAssembly && MakesOne(callee, depth + 1))))
                {
                    result = true;
                    break;
                }
        lock (MakesOneInside) MakesOneInside[method] = result;
        return result;
    }

    /// <summary>Whether the method calls Dispose on local <paramref name="local"/> (what <c>using</c> compiles to).</summary>
    private static bool Disposed(MethodBase method, List<Instruction> instructions, int local)
    {
        for (int k = 1; k < instructions.Count; k++)
            if (Callee(method, instructions[k]) is { Name: "Dispose" } && LoadedLocal(instructions[k - 1]) == local) return true;
        return false;
    }

    private static MethodBase? Callee(MethodBase method, Instruction instruction)
    {
        if (instruction.Op != OpCodes.Call && instruction.Op != OpCodes.Callvirt && instruction.Op != OpCodes.Newobj) return null;
        try
        {
            var type = method.DeclaringType;
            return method.Module.ResolveMethod(instruction.Operand, type is { IsGenericType: true } ? type.GetGenericArguments() : null,
                method.IsGenericMethod ? method.GetGenericArguments() : null);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or TypeLoadException)
        {
            return null;
        }
    }

    private static int? LocalIndex(Instruction i) =>
        i.Op == OpCodes.Stloc_0 ? 0 : i.Op == OpCodes.Stloc_1 ? 1 : i.Op == OpCodes.Stloc_2 ? 2 : i.Op == OpCodes.Stloc_3 ? 3
        : i.Op == OpCodes.Stloc_S || i.Op == OpCodes.Stloc ? i.Operand : null;

    private static int? LoadedLocal(Instruction i) =>
        i.Op == OpCodes.Ldloc_0 ? 0 : i.Op == OpCodes.Ldloc_1 ? 1 : i.Op == OpCodes.Ldloc_2 ? 2 : i.Op == OpCodes.Ldloc_3 ? 3
        : i.Op == OpCodes.Ldloc_S || i.Op == OpCodes.Ldloc ? i.Operand : null;

    private readonly record struct Instruction(OpCode Op, int Offset, int Operand);

    private static List<Instruction> Decode(byte[] il)
    {
        var instructions = new List<Instruction>();
        for (int i = 0; i < il.Length;)
        {
            int start = i;
            var op = il[i] == 0xFE ? OpCodesByValue[(short)(0xFE00 | il[i + 1])] : OpCodesByValue[il[i]];
            i += op.Size;
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            int operand = size switch { 1 => il[i], 2 => BitConverter.ToUInt16(il, i), 4 => BitConverter.ToInt32(il, i), _ => 0 };
            instructions.Add(new Instruction(op, start, operand));
            i += size;
        }
        return instructions;
    }
}
