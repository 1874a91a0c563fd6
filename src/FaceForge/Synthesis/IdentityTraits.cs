using SkiaSharp;

namespace FaceForge.Synthesis;

/// <summary>
/// The stable look of one synthetic identity, in the 112x112 face frame of the ArcFace template. Everything a
/// network must learn to tell identities apart lives here; nothing here changes between images of one identity.
/// </summary>
internal sealed record IdentityTraits(
    float FaceWidth, float FaceHeight, float JawNarrowing, SKColor Skin, SKColor Hair, int HairStyle, float HairLine,
    float EyeSpacing, float EyeHeight, float EyeSize, SKColor Iris, float BrowThickness, float BrowTilt, float BrowGap,
    float NoseLength, float NoseWidth, float MouthWidth, float MouthY, float LipThickness, SKColor Lips,
    (float X, float Y, float R)[] Marks, bool Beard)
{
    public static IdentityTraits Sample(Random r)
    {
        float U(float lo, float hi) => lo + (float)r.NextDouble() * (hi - lo);
        // Skin tones spread along a light-to-dark axis with some hue variation.
        float tone = U(0.25f, 1f);
        var skin = new SKColor((byte)(90 + 150 * tone + U(-10, 10)), (byte)(60 + 140 * tone + U(-10, 10)), (byte)(40 + 120 * tone + U(-10, 10)));
        SKColor[] hairColours = [new(20, 15, 10), new(60, 40, 25), new(110, 75, 40), new(180, 140, 80), new(140, 50, 20), new(150, 150, 150), new(230, 220, 200)];
        var hair = hairColours[r.Next(hairColours.Length)];
        SKColor[] irises = [new(60, 40, 20), new(40, 90, 160), new(70, 120, 70), new(110, 80, 40), new(30, 30, 30)];
        var marks = new (float, float, float)[r.Next(3)];
        for (int i = 0; i < marks.Length; i++) marks[i] = (U(30, 82), U(45, 100), U(1.2f, 2.6f));
        return new IdentityTraits(
            FaceWidth: U(33, 44), FaceHeight: U(46, 58), JawNarrowing: U(0.0f, 0.35f), Skin: skin, Hair: hair, HairStyle: r.Next(5), HairLine: U(18, 32),
            EyeSpacing: U(30, 41), EyeHeight: U(47, 56), EyeSize: U(3.5f, 6f), Iris: irises[r.Next(irises.Length)],
            BrowThickness: U(1.5f, 4.5f), BrowTilt: U(-0.25f, 0.25f), BrowGap: U(6, 11),
            NoseLength: U(14, 26), NoseWidth: U(7, 14), MouthWidth: U(22, 36), MouthY: U(86, 97), LipThickness: U(2, 5.5f),
            Lips: new SKColor((byte)Math.Clamp(skin.Red - U(10, 60), 0, 255), (byte)Math.Clamp(skin.Green - U(40, 80), 0, 255), (byte)Math.Clamp(skin.Blue - U(30, 70), 0, 255)),
            Marks: marks, Beard: r.NextDouble() < 0.2);
    }
}
