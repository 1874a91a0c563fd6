namespace FaceForge.Training.Hosting;

/// <summary>
/// The class name at the head of a TorchSharp optimizer state. TorchSharp writes the optimizer's own class name there
/// and refuses a state under another; FaceForge's optimizers subclass TorchSharp's (<c>AdamWOptimizer</c> : <c>AdamW</c>),
/// so checkpoints store the TorchSharp family name, which every FaceForge build reads, and loading accepts either name.
/// </summary>
internal static class OptimizerStateName
{
    /// <summary>The TorchSharp class <paramref name="type"/> is or derives from (SGD, AdamW, Adam…).</summary>
    public static string Family(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
            if (t.Namespace == "TorchSharp.Modules") return t.Name;
        return type.Name;
    }

    /// <summary>
    /// Copies a state to <paramref name="writer"/> with its head name replaced by <paramref name="name"/> if the head is
    /// <paramref name="name"/> or <paramref name="accept"/>; another head is kept, for TorchSharp to name in its refusal.
    /// </summary>
    public static void Rename(byte[] state, BinaryWriter writer, string name, string accept)
    {
        using var reader = new BinaryReader(new MemoryStream(state));
        string head = reader.ReadString();
        writer.Write(head == name || head == accept ? name : head);
        reader.BaseStream.CopyTo(writer.BaseStream);
    }
}
