using SkiaSharp;

namespace FaceForge.Synthesis;

/// <summary>The nuisance of one image: pose, expression, lighting, blur, noise and occluder. Drawn per image.</summary>
internal sealed record ImageConditions(
    float Yaw, float Roll, float Scale, float ShiftX, float ShiftY, float Smile, float MouthOpen, float Blink, float BrowRaise,
    float Gain, float LightAngle, float LightStrength, float Blur, float Noise, Occluder Occluder, SKColor OccluderColour,
    float OccluderX, float OccluderY, SKColor Background, SKColor Background2)
{
    public static ImageConditions Sample(Random r, float occlusionRate, float strength = 1f)
    {
        float U(float lo, float hi) => lo + (float)r.NextDouble() * (hi - lo);
        var occluder = r.NextDouble() < occlusionRate ? (Occluder)(1 + r.Next(4)) : Occluder.None;
        SKColor[] maskColours = [new(235, 240, 245), new(120, 170, 220), new(30, 30, 35), new(200, 60, 60), new(90, 140, 100)];
        SKColor Any() => new((byte)r.Next(256), (byte)r.Next(256), (byte)r.Next(256));
        return new ImageConditions(
            Yaw: U(-0.5f, 0.5f) * strength, Roll: U(-10, 10) * strength, Scale: 1 + U(-0.07f, 0.07f) * strength,
            ShiftX: U(-3, 3) * strength, ShiftY: U(-3, 3) * strength,
            Smile: U(-0.3f, 1f), MouthOpen: r.NextDouble() < 0.25 ? U(1, 6) : 0, Blink: r.NextDouble() < 0.1 ? U(0.6f, 1f) : 0, BrowRaise: U(-1.5f, 2.5f),
            Gain: U(0.65f, 1.3f), LightAngle: U(0, MathF.Tau), LightStrength: U(0, 0.45f), Blur: r.NextDouble() < 0.3 ? U(0.3f, 1.6f) : 0, Noise: U(0, 10),
            Occluder: occluder, OccluderColour: maskColours[r.Next(maskColours.Length)], OccluderX: U(-1, 1), OccluderY: U(-1, 1),
            Background: Any(), Background2: Any());
    }
}
