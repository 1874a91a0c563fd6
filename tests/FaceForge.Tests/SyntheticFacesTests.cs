using FaceForge.Alignment;
using FaceForge.Synthesis;
using Xunit;
using Xunit.Abstractions;

namespace FaceForge.Tests;

public class SyntheticFacesTests(ITestOutputHelper log)
{
    private static readonly SyntheticFaces Generator = new(new SyntheticFaceOptions { Identities = 30, ImagesPerIdentity = 4, Seed = 7 });

    [Fact]
    public void SameSeedGivesTheSameBytes()
    {
        var again = new SyntheticFaces(Generator.Options);
        Assert.Equal(Generator.RenderAligned(3, 2).Image.Pixels.ToArray(), again.RenderAligned(3, 2).Image.Pixels.ToArray());
        var other = new SyntheticFaces(Generator.Options with { Seed = 8 });
        Assert.NotEqual(Generator.RenderAligned(3, 2).Image.Pixels.ToArray(), other.RenderAligned(3, 2).Image.Pixels.ToArray());
    }

    [Fact]
    public void LandmarksStayNearTheTemplate()
    {
        for (int id = 0; id < 10; id++)
        {
            var (image, landmarks) = Generator.RenderAligned(id, 0);
            Assert.Equal((112, 112), (image.Width, image.Height));
            var template = AlignmentTemplate.ArcFace112.Points.ToArray();
            var points = landmarks.ToArray();
            // Pose, scale and shift jitter move points by a few pixels, not across the face.
            for (int p = 0; p < 5; p++) Assert.InRange(System.Numerics.Vector2.Distance(points[p], template[p]), 0, 16);
        }
    }

    [Fact]
    public void IdentitiesAreLearnableButNotTrivial()
    {
        // Raw-pixel nearest neighbour, leave one out: identity must carry signal (far above chance) yet images of one
        // identity must vary more than copies of a template (far from perfect).
        int ids = Generator.Options.Identities, per = Generator.Options.ImagesPerIdentity;
        var vectors = new List<float[]>();
        for (int id = 0; id < ids; id++)
            for (int k = 0; k < per; k++)
            {
                var px = Generator.RenderAligned(id, k).Image.Pixels.ToArray();
                var v = px.Select(b => (float)b).ToArray();
                float mean = v.Average();
                double norm = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)));
                vectors.Add(v.Select(x => (float)((x - mean) / norm)).ToArray());
            }
        int correct = 0;
        for (int i = 0; i < vectors.Count; i++)
        {
            int best = -1; double bestScore = double.NegativeInfinity;
            for (int j = 0; j < vectors.Count; j++)
            {
                if (i == j) continue;
                double s = 0; for (int d = 0; d < vectors[i].Length; d++) s += vectors[i][d] * vectors[j][d];
                if (s > bestScore) { bestScore = s; best = j; }
            }
            if (best / per == i / per) correct++;
        }
        double accuracy = correct / (double)vectors.Count;
        log.WriteLine($"raw-pixel 1-NN accuracy {accuracy:0.000} (chance {1.0 / ids:0.000})");
        Assert.InRange(accuracy, 5.0 / ids, 0.9);
    }

    [Fact]
    public void ScenesHaveBoxesInsideAndConsistentOcclusionMaps()
    {
        var generator = new SyntheticFaces(new SyntheticFaceOptions { Seed = 3, SceneOcclusionRate = 1 });
        int faces = 0, occluded = 0;
        for (int s = 0; s < 8; s++)
        {
            var scene = generator.RenderScene(s);
            Assert.Equal((320, 240), (scene.Image.Width, scene.Image.Height));
            Assert.InRange(scene.Faces.Count, 1, 4);
            for (int f = 0; f < scene.Faces.Count; f++)
            {
                var face = scene.Faces[f];
                faces++;
                Assert.True(face.X >= 0 && face.Y >= 0 && face.X + face.Width <= 320.01 && face.Y + face.Height <= 240.01);
                Assert.NotEqual(Occluder.None, face.Occluder);
                int marked = scene.OcclusionMap.Count(v => v == f + 1);
                Assert.Equal(face.OccludedFraction > 0, marked > 0);
                if (face.OccludedFraction > 0.05) occluded++;
                var eye = face.Landmarks.LeftEye;
                Assert.True(eye.X > face.X - 1 && eye.X < face.X + face.Width + 1 && eye.Y > face.Y - 1 && eye.Y < face.Y + face.Height + 1);
            }
        }
        Assert.True(occluded >= faces / 2, $"{occluded} of {faces} faces visibly occluded");
    }
}
