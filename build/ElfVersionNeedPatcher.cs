// Shared by the MSBuild task of build/FaceForge.Training.targets (also shipped in the FaceForge.Training package) and by the tests, so the code that patches the build output
// is the code under test.
#nullable enable
using System;
using System.IO;
using System.Text;

namespace FaceForge.Build
{
    /// <summary>Result of marking a version-need entry weak.</summary>
    public enum ElfPatchOutcome
    {
        /// <summary>The entry was strong and is now weak.</summary>
        Patched,
        /// <summary>The entry was already weak: nothing written.</summary>
        AlreadyWeak,
        /// <summary>The library asks for no such version: nothing written.</summary>
        EntryAbsent,
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on one version-need entry (for example GLIBCXX_3.4.32) of an ELF64 little-endian shared
    /// library, so the dynamic loader warns instead of failing when the system library lacks that version.
    /// </summary>
    /// <remarks>
    /// TorchSharp 0.107's libLibTorchSharp.so references std::ios_base_library_init (GLIBCXX_3.4.32) without calling
    /// it; Debian 12's libstdc++ stops at 3.4.30. The file is rewritten through a temporary file and a rename, so a
    /// hard link into the NuGet cache is never modified and a crash never leaves a half-written library.
    /// </remarks>
    public static class ElfVersionNeedPatcher
    {
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlgWeak = 0x2;

        /// <summary>Marks the version-need entry named <paramref name="versionName"/> weak in the file at <paramref name="path"/>.</summary>
        public static ElfPatchOutcome MarkWeak(string path, string versionName)
        {
            byte[] image = File.ReadAllBytes(path);
            var outcome = MarkWeak(image, versionName, path);
            if (outcome == ElfPatchOutcome.Patched)
            {
                string temporary = path + ".patching";
                File.WriteAllBytes(temporary, image);
                File.Replace(temporary, path, null);
            }
            return outcome;
        }

        /// <summary>Marks the entry weak in an in-memory ELF image; <paramref name="name"/> is used in error messages.</summary>
        public static ElfPatchOutcome MarkWeak(byte[] image, string versionName, string name)
        {
            if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
                throw new InvalidDataException($"{name}: not an ELF file (bad magic).");
            if (image[4] != 2 || image[5] != 1)
                throw new InvalidDataException($"{name}: only 64-bit little-endian ELF is supported (class {image[4]}, data {image[5]}).");

            long sectionTable = ReadInt64(image, 0x28, name);
            int sectionEntrySize = ReadUInt16(image, 0x3A, name);
            int sectionCount = ReadUInt16(image, 0x3C, name);
            for (int i = 0; i < sectionCount; i++)
            {
                long header = sectionTable + (long)i * sectionEntrySize;
                if (ReadUInt32(image, header + 4, name) != ShtGnuVerneed)
                    continue;
                long offset = ReadInt64(image, header + 24, name);
                int stringSection = (int)ReadUInt32(image, header + 40, name);
                int needCount = (int)ReadUInt32(image, header + 44, name);
                long strings = ReadInt64(image, sectionTable + (long)stringSection * sectionEntrySize + 24, name);
                return MarkInVerneed(image, offset, needCount, strings, versionName, name);
            }
            return ElfPatchOutcome.EntryAbsent;
        }

        private static ElfPatchOutcome MarkInVerneed(byte[] image, long need, int needCount, long strings, string versionName, string name)
        {
            for (int n = 0; n < needCount; n++)
            {
                int auxCount = ReadUInt16(image, need + 2, name);
                long aux = need + ReadUInt32(image, need + 8, name);
                for (int a = 0; a < auxCount; a++)
                {
                    string auxName = ReadString(image, strings + ReadUInt32(image, aux + 8, name), name);
                    if (auxName == versionName)
                    {
                        ushort flags = ReadUInt16(image, aux + 4, name);
                        if ((flags & VerFlgWeak) != 0)
                            return ElfPatchOutcome.AlreadyWeak;
                        flags |= VerFlgWeak;
                        image[aux + 4] = (byte)flags;
                        image[aux + 5] = (byte)(flags >> 8);
                        return ElfPatchOutcome.Patched;
                    }
                    uint nextAux = ReadUInt32(image, aux + 12, name);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = ReadUInt32(image, need + 12, name);
                if (next == 0) break;
                need += next;
            }
            return ElfPatchOutcome.EntryAbsent;
        }

        private static void Check(byte[] image, long offset, int length, string name)
        {
            if (offset < 0 || offset + length > image.Length)
                throw new InvalidDataException($"{name}: ELF structure points outside the file (offset {offset}).");
        }

        private static ushort ReadUInt16(byte[] b, long o, string name) { Check(b, o, 2, name); return (ushort)(b[o] | b[o + 1] << 8); }

        private static uint ReadUInt32(byte[] b, long o, string name) { Check(b, o, 4, name); return BitConverter.ToUInt32(b, (int)o); }

        private static long ReadInt64(byte[] b, long o, string name) { Check(b, o, 8, name); return BitConverter.ToInt64(b, (int)o); }

        private static string ReadString(byte[] b, long o, string name)
        {
            Check(b, o, 1, name);
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }
    }

#if !FACEFORGE_ELF_ONLY
    /// <summary>MSBuild task: marks GLIBCXX_3.4.32 weak in every libLibTorchSharp.so below a folder.</summary>
    public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>The build or publish output folder to search.</summary>
        [Microsoft.Build.Framework.Required]
        public string Directory { get; set; } = "";

        /// <inheritdoc/>
        public override bool Execute()
        {
            if (!System.IO.Directory.Exists(Directory))
                return true;
            foreach (string file in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                var outcome = ElfVersionNeedPatcher.MarkWeak(file, "GLIBCXX_3.4.32");
                if (outcome == ElfPatchOutcome.Patched)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"FaceForge: marked GLIBCXX_3.4.32 weak in {file}");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
