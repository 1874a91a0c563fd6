using System.Numerics;
using FaceForge.Alignment;
using SkiaSharp;

namespace FaceForge.Synthesis;

/// <summary>
/// Draws one synthetic face with Skia in its 112x112 face frame, mapped onto the canvas by a placement matrix.
/// Also draws, on optional mask canvases, the face region and the occluder, so a detection scene knows which face
/// pixels are hidden.
/// </summary>
internal static class SyntheticFaceRenderer
{
    private const float CentreX = 56f;

    /// <summary>The identity's landmarks in the face frame for the given conditions (pose and expression move them).</summary>
    public static FaceLandmarks Landmarks(IdentityTraits t, ImageConditions c)
    {
        float spacing = t.EyeSpacing * (1 - 0.15f * MathF.Abs(c.Yaw));
        float eyeShift = 4 * c.Yaw, noseShift = 8 * c.Yaw, mouthShift = 4 * c.Yaw;
        float mouthWidth = t.MouthWidth * (1 + 0.12f * c.Smile) * (1 - 0.1f * MathF.Abs(c.Yaw));
        float mouthY = t.MouthY - 1.5f * c.Smile;
        return new FaceLandmarks(
            new Vector2(CentreX - spacing / 2 + eyeShift, t.EyeHeight), new Vector2(CentreX + spacing / 2 + eyeShift, t.EyeHeight),
            new Vector2(CentreX + noseShift, t.EyeHeight + t.NoseLength),
            new Vector2(CentreX - mouthWidth / 2 + mouthShift, mouthY), new Vector2(CentreX + mouthWidth / 2 + mouthShift, mouthY));
    }

    /// <summary>Draws the face; returns its landmarks and face-outline bounding box in canvas pixels.</summary>
    public static (FaceLandmarks Landmarks, SKRect Box) Draw(SKCanvas canvas, SKCanvas? faceMask, SKCanvas? occluderMask, SKMatrix placement, IdentityTraits t, ImageConditions c)
    {
        var marks = Landmarks(t, c);
        using var outline = FaceOutline(t, c);
        canvas.Save();
        canvas.Concat(in placement);
        using var fill = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
        using var stroke = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round };

        if (t.HairStyle == 4) // long hair falls behind the face
        {
            fill.Color = t.Hair;
            canvas.DrawRoundRect(CentreX - t.FaceWidth - 6 - 3 * c.Yaw, 62 - t.FaceHeight - 4, 2 * t.FaceWidth + 12, 2 * t.FaceHeight + 16, 18, 18, fill);
        }
        fill.Color = Shade(t.Skin, 0.8f);
        canvas.DrawRect(CentreX - t.FaceWidth * 0.45f, 95, t.FaceWidth * 0.9f, 40, fill);
        fill.Color = t.Skin;
        canvas.DrawPath(outline, fill);

        fill.Color = Shade(t.Skin, 0.45f);
        foreach (var (x, y, r) in t.Marks) canvas.DrawCircle(x + 3 * c.Yaw, y, r, fill);

        if (t.Beard)
        {
            fill.Color = t.Hair.WithAlpha(200);
            canvas.Save();
            canvas.ClipPath(outline, antialias: true);
            canvas.DrawRect(0, marks.LeftMouth.Y - 6, 112, 60, fill);
            canvas.Restore();
        }
        DrawEye(canvas, fill, marks.LeftEye, t, c);
        DrawEye(canvas, fill, marks.RightEye, t, c);

        stroke.Color = Shade(t.Hair, 0.9f);
        stroke.StrokeWidth = t.BrowThickness;
        foreach (var (eye, side) in new[] { (marks.LeftEye, -1f), (marks.RightEye, 1f) })
        {
            float y = eye.Y - t.BrowGap - c.BrowRaise;
            float w = t.EyeSize * 2.4f;
            canvas.DrawLine(eye.X - w / 2, y + side * t.BrowTilt * w / 2, eye.X + w / 2, y - side * t.BrowTilt * w / 2, stroke);
        }

        stroke.Color = Shade(t.Skin, 0.7f);
        stroke.StrokeWidth = 1.6f;
        var nose = marks.Nose;
        canvas.DrawLine(CentreX + 2 * c.Yaw, t.EyeHeight + 2, nose.X, nose.Y, stroke);
        fill.Color = Shade(t.Skin, 0.5f);
        canvas.DrawOval(nose.X - t.NoseWidth / 3, nose.Y, 1.8f, 1.2f, fill);
        canvas.DrawOval(nose.X + t.NoseWidth / 3, nose.Y, 1.8f, 1.2f, fill);
        stroke.StrokeWidth = 1.1f;
        canvas.DrawArc(new SKRect(nose.X - t.NoseWidth / 2, nose.Y - 4, nose.X + t.NoseWidth / 2, nose.Y + 2), 20, 140, false, stroke);

        DrawMouth(canvas, fill, marks, t, c);
        DrawHair(canvas, fill, t, c);
        canvas.Restore();

        if (faceMask is not null)
        {
            faceMask.Save();
            faceMask.Concat(in placement);
            using var white = new SKPaint { Color = SKColors.White, IsAntialias = false };
            faceMask.DrawPath(outline, white);
            faceMask.Restore();
        }
        DrawOccluder(canvas, placement, marks, t, c, null);
        if (occluderMask is not null) DrawOccluder(occluderMask, placement, marks, t, c, SKColors.White);

        var box = placement.MapRect(outline.Bounds);
        return (marks.Select(p => ToVector(placement.MapPoint(p.X, p.Y))), box);
    }

    private static SKPath FaceOutline(IdentityTraits t, ImageConditions c)
    {
        var path = new SKPath();
        float cx = CentreX - 2 * c.Yaw, cy = 62;
        for (int i = 0; i < 72; i++)
        {
            float a = i * MathF.Tau / 72;
            float s = MathF.Sin(a);
            float x = cx + t.FaceWidth * MathF.Cos(a) * (s > 0 ? 1 - t.JawNarrowing * s * s : 1);
            float y = cy + t.FaceHeight * s;
            if (i == 0) path.MoveTo(x, y); else path.LineTo(x, y);
        }
        path.Close();
        return path;
    }

    private static void DrawEye(SKCanvas canvas, SKPaint fill, Vector2 eye, IdentityTraits t, ImageConditions c)
    {
        float w = t.EyeSize * 1.9f, h = t.EyeSize * (1 - c.Blink) + 0.4f;
        fill.Color = new SKColor(245, 245, 240);
        canvas.DrawOval(eye.X, eye.Y, w, h, fill);
        if (c.Blink < 0.8f)
        {
            canvas.Save();
            using var clip = new SKPath();
            clip.AddOval(new SKRect(eye.X - w, eye.Y - h, eye.X + w, eye.Y + h));
            canvas.ClipPath(clip, antialias: true);
            fill.Color = t.Iris;
            canvas.DrawCircle(eye.X + 1.5f * c.Yaw, eye.Y, t.EyeSize * 0.75f, fill);
            fill.Color = SKColors.Black;
            canvas.DrawCircle(eye.X + 1.5f * c.Yaw, eye.Y, t.EyeSize * 0.33f, fill);
            canvas.Restore();
        }
        fill.Color = Shade(t.Skin, 0.55f);
        canvas.DrawRect(eye.X - w, eye.Y - h - 0.8f, 2 * w, 0.9f, fill);
    }

    private static void DrawMouth(SKCanvas canvas, SKPaint fill, FaceLandmarks m, IdentityTraits t, ImageConditions c)
    {
        var l = m.LeftMouth; var r = m.RightMouth;
        float midX = (l.X + r.X) / 2, midY = (l.Y + r.Y) / 2;
        float curve = 3 * c.Smile;
        using var lips = new SKPath();
        lips.MoveTo(l.X, l.Y);
        lips.QuadTo(midX, midY - t.LipThickness - curve * 0.3f, r.X, r.Y);
        lips.QuadTo(midX, midY + t.LipThickness + c.MouthOpen + curve, l.X, l.Y);
        lips.Close();
        fill.Color = t.Lips;
        canvas.DrawPath(lips, fill);
        if (c.MouthOpen > 0.5f)
        {
            fill.Color = new SKColor(40, 10, 15);
            canvas.DrawOval(midX, midY + c.MouthOpen * 0.4f, (r.X - l.X) * 0.32f, c.MouthOpen * 0.5f, fill);
        }
    }

    private static void DrawHair(SKCanvas canvas, SKPaint fill, IdentityTraits t, ImageConditions c)
    {
        if (t.HairStyle == 0) return;
        fill.Color = t.Hair;
        float top = 62 - t.FaceHeight;
        canvas.Save();
        using var region = new SKPath();
        region.AddOval(new SKRect(CentreX - t.FaceWidth - 4 - 2 * c.Yaw, top - 8, CentreX + t.FaceWidth + 4 - 2 * c.Yaw, 62 + t.FaceHeight * 0.3f));
        canvas.ClipPath(region, antialias: true);
        float line = t.HairLine;
        switch (t.HairStyle)
        {
            case 1: canvas.DrawRect(0, 0, 112, line, fill); break;
            case 2: canvas.DrawRect(0, 0, 112, line + 6, fill); canvas.DrawRect(0, 0, CentreX - t.FaceWidth + 6, 70, fill); canvas.DrawRect(CentreX + t.FaceWidth - 6, 0, 40, 70, fill); break;
            case 3:
                using (var part = new SKPath())
                {
                    part.MoveTo(0, 0); part.LineTo(112, 0); part.LineTo(112, line + 2); part.LineTo(CentreX + 6, line - 4); part.LineTo(0, line + 12); part.Close();
                    canvas.DrawPath(part, fill);
                }
                break;
            default: canvas.DrawRect(0, 0, 112, line, fill); canvas.DrawRect(0, 0, CentreX - t.FaceWidth + 5, 112, fill); canvas.DrawRect(CentreX + t.FaceWidth - 5, 0, 40, 112, fill); break;
        }
        canvas.Restore();
    }

    private static void DrawOccluder(SKCanvas canvas, SKMatrix placement, FaceLandmarks m, IdentityTraits t, ImageConditions c, SKColor? forceColour)
    {
        if (c.Occluder == Occluder.None) return;
        canvas.Save();
        canvas.Concat(in placement);
        using var fill = new SKPaint { IsAntialias = forceColour is null, Style = SKPaintStyle.Fill };
        SKColor Colour(SKColor normal) => forceColour ?? normal;
        switch (c.Occluder)
        {
            case Occluder.Sunglasses:
                fill.Color = Colour(new SKColor(15, 15, 20));
                float lw = t.EyeSize * 2.6f, lh = t.EyeSize * 2.1f;
                canvas.DrawRoundRect(m.LeftEye.X - lw, m.LeftEye.Y - lh, 2 * lw, 2 * lh, 4, 4, fill);
                canvas.DrawRoundRect(m.RightEye.X - lw, m.RightEye.Y - lh, 2 * lw, 2 * lh, 4, 4, fill);
                canvas.DrawRect(m.LeftEye.X + lw - 1, m.LeftEye.Y - 2, m.RightEye.X - m.LeftEye.X - 2 * lw + 2, 2.5f, fill);
                break;
            case Occluder.Mask:
                fill.Color = Colour(c.OccluderColour);
                using (var mask = new SKPath())
                {
                    float top = m.Nose.Y - 7, w = t.FaceWidth * 0.95f, cx = m.Nose.X - 2 * c.Yaw;
                    mask.MoveTo(cx - w, top + 4);
                    mask.QuadTo(cx, top - 6, cx + w, top + 4);
                    mask.LineTo(cx + w * 0.8f, 62 + t.FaceHeight * 0.8f);
                    mask.QuadTo(cx, 62 + t.FaceHeight + 8, cx - w * 0.8f, 62 + t.FaceHeight * 0.8f);
                    mask.Close();
                    canvas.DrawPath(mask, fill);
                }
                break;
            case Occluder.Hand:
                fill.Color = Colour(Shade(t.Skin, 0.92f));
                float hx = CentreX + c.OccluderX * 22, hy = 70 + c.OccluderY * 22;
                canvas.DrawOval(hx, hy + 10, 17, 15, fill);
                for (int f = 0; f < 4; f++)
                    canvas.DrawRoundRect(hx - 16 + f * 8.5f, hy - 22 + Math.Abs(f - 1.5f) * 3, 7, 28, 3.5f, 3.5f, fill);
                break;
            case Occluder.Scarf:
                fill.Color = Colour(c.OccluderColour);
                float sy = (m.LeftMouth.Y + m.Nose.Y) / 2 + 2 + c.OccluderY * 3;
                canvas.DrawRect(CentreX - t.FaceWidth - 10, sy, 2 * t.FaceWidth + 20, 60, fill);
                if (forceColour is null)
                {
                    fill.Color = Shade(c.OccluderColour, 0.6f);
                    for (float y = sy + 4; y < sy + 60; y += 8) canvas.DrawRect(CentreX - t.FaceWidth - 10, y, 2 * t.FaceWidth + 20, 3, fill);
                }
                break;
        }
        canvas.Restore();
    }

    private static SKColor Shade(SKColor c, float f) =>
        new((byte)Math.Clamp(c.Red * f, 0, 255), (byte)Math.Clamp(c.Green * f, 0, 255), (byte)Math.Clamp(c.Blue * f, 0, 255), c.Alpha);

    private static Vector2 ToVector(SKPoint p) => new(p.X, p.Y);
}
