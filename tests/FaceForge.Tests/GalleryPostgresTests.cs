using System.Text.Json;
using FaceForge.Gallery;
using Xunit;

namespace FaceForge.Tests;

/// <summary>The PostgreSQL gallery store: a real server, two clients kept in step by the change sequence, the CLI on it.</summary>
public class GalleryPostgresTests(SyntheticFolderFixture data, PostgresServer server) : IClassFixture<SyntheticFolderFixture>, IClassFixture<PostgresServer>
{
    private static GalleryModel Model(int dim) => new("f00d", "test", dim, "arcface", "/models/test.ffm", null);

    [PostgresFact]
    public void TwoClientsStayInStepThroughTheChangeSequence()
    {
        const int dim = 24;
        string location = server.ConnectionString("two_clients");
        var shared = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero };
        using var first = FaceGallery.Create(location, Model(dim), new GalleryOptions { Precision = GalleryPrecision.Float16 }, open: shared);
        first.Enroll(Enumerable.Range(0, 20).Select(i => new GalleryFace($"s{i % 5}", SyntheticEmbeddings.Vector(4, i, dim), i, $"img{i}")).ToList());
        using var second = FaceGallery.Open(location, shared);
        Assert.Equal(20, second.Count);

        first.Enroll([new GalleryFace("newcomer", SyntheticEmbeddings.Vector(4, 100, dim))]);
        Assert.Equal("newcomer", second.Identify(SyntheticEmbeddings.Vector(4, 100, dim), 1).Best!.Subject);
        Assert.Equal(21, second.Count);

        first.Remove("s1");
        var answer = second.Identify(SyntheticEmbeddings.Vector(4, 1, dim), 5);
        Assert.DoesNotContain("s1", answer.Matches.Select(m => m.Subject));
        Assert.Equal(17, second.Count);
        Assert.Equal(5, second.Stats().Subjects);

        second.SetThreshold(0.5, 0.01);
        Assert.Equal(0.5, first.Identify(SyntheticEmbeddings.Vector(4, 0, dim), 1).Threshold);
        // The second client's own write comes back through the log and is not applied twice.
        second.Enroll([new GalleryFace("late", SyntheticEmbeddings.Vector(4, 200, dim))]);
        second.Refresh();
        first.Refresh();
        Assert.Equal(18, second.Count);
        Assert.Equal(18, first.Count);

        using var reopened = FaceGallery.Open(location);
        Assert.Equal(18, reopened.Count);
        Assert.Equal(GalleryPrecision.Float16, reopened.Options.Precision);
        Assert.Equal(first.FaceIds(), reopened.FaceIds());
        Assert.Throws<IOException>(() => FaceGallery.Create(location, Model(dim)));
    }

    [PostgresFact]
    public void AReaderWhoseChangeLogWasEmptiedByHandReadsEveryFace() => EmptyTheLogUnderAReader(refilledPastTheReader: false);

    [PostgresFact]
    public void AReaderWhoseChangeLogWasEmptiedAndRefilledPastItsNumberReadsEveryFace() => EmptyTheLogUnderAReader(refilledPastTheReader: true);

    private void EmptyTheLogUnderAReader(bool refilledPastTheReader)
    {
        const int dim = 8;
        string location = server.ConnectionString(refilledPastTheReader ? "log_refilled" : "log_emptied");
        var shared = new GalleryOpenOptions { RefreshInterval = TimeSpan.Zero };
        using var reader = FaceGallery.Create(location, Model(dim), open: shared);
        reader.Enroll(Enumerable.Range(0, 6).Select(i => new GalleryFace($"s{i % 3}", SyntheticEmbeddings.Vector(3, i, dim))).ToList());
        reader.Refresh(); // its own six adds come back through the log: it has now seen number 6
        using var writer = FaceGallery.Open(location, shared);
        using (var connection = new Npgsql.NpgsqlConnection(location))
        {
            connection.Open();
            using var truncate = new Npgsql.NpgsqlCommand("TRUNCATE gallery_changes RESTART IDENTITY", connection);
            truncate.ExecuteNonQuery();
        }
        // Logged under numbers 1-2, below the reader's 6: read incrementally, the removal would be missed for good.
        Assert.Equal(2, writer.Remove("s0"));
        // Numbers past the reader's 6 again: only the row at its number (another one now) tells it.
        if (refilledPastTheReader) writer.Enroll(Enumerable.Range(0, 8).Select(i => new GalleryFace("s4", SyntheticEmbeddings.Vector(3, 10 + i, dim))).ToList());
        Assert.DoesNotContain("s0", reader.Identify(SyntheticEmbeddings.Vector(3, 0, dim), 5).Matches.Select(m => m.Subject));
        Assert.Equal(refilledPastTheReader ? 12 : 4, reader.Count);
    }

    [PostgresFact]
    public void MetadataLookupAndRemovalOfOneSubject()
    {
        const int dim = 8;
        using var gallery = FaceGallery.Create(server.ConnectionString("one_subject"), Model(dim));
        gallery.Enroll([new GalleryFace("ada", SyntheticEmbeddings.Vector(5, 0, dim))],
            new Dictionary<string, IReadOnlyDictionary<string, string?>> { ["ada"] = new Dictionary<string, string?> { ["name"] = "Ada" } });
        Assert.True(gallery.AddSubject("bob", new Dictionary<string, string?> { ["team"] = "b" }));
        var stray = new Dictionary<string, IReadOnlyDictionary<string, string?>> { ["nobody"] = new Dictionary<string, string?> { ["x"] = "y" } };
        Assert.Throws<KeyNotFoundException>(() => gallery.Enroll([new GalleryFace("carl", SyntheticEmbeddings.Vector(5, 1, dim))], stray));
        Assert.Equal(1, gallery.Count);
        Assert.Null(gallery.Subject("carl"));
        Assert.Equal(("Ada", 1), (gallery.Subject("ada")!.Metadata["name"], gallery.Subject("ada")!.Faces));
        Assert.Equal("b", gallery.Subject("bob")!.Metadata["team"]);
        Assert.Equal(0, gallery.Remove("bob"));
        Assert.Null(gallery.Remove("bob"));
        Assert.Equal(1, gallery.Remove("ada"));
    }

    [PostgresFact]
    public void CliCreatesEnrolsAndIdentifiesInAPostgresGallery()
    {
        string dir = TestPaths.NewTempDirectory("gallery-pg-cli");
        string model = TestModels.Random(dir);
        string address = $"Host={server.Root};Port={server.Port};Username=postgres;Database=postgres";
        var (code, _, error) = CliHarness.Run("gallery", "create", "office", "--store", address, "--model", model);
        Assert.True(code == 0, error);
        string gallery = address + ";Search Path=office";
        (code, _, error) = CliHarness.Run("gallery", "enroll", gallery, "--folder", data.Root);
        Assert.True(code == 0, error);
        var (statsCode, output, statsError) = CliHarness.Run("gallery", "stats", gallery, "--json");
        Assert.True(statsCode == 0, statsError);
        var stats = JsonDocument.Parse(output).RootElement;
        Assert.Equal(data.Dataset.Count, stats.GetProperty("faces").GetInt32());
        Assert.Equal("postgres", stats.GetProperty("store").GetProperty("kind").GetString());
        string image = Path.Combine(data.Root, data.Dataset.RelativePath(0));
        (code, output, error) = CliHarness.Run("gallery", "identify", gallery, image, "--json");
        Assert.True(code == 0, error);
        Assert.Equal(data.Dataset.IdentityNames[data.Dataset.GetLabel(0)], JsonDocument.Parse(output).RootElement.GetProperty("images")[0].GetProperty("faces")[0].GetProperty("best").GetString());
        (code, _, error) = CliHarness.Run("gallery", "create", "office", "--store", address, "--model", model);
        Assert.Equal(2, code);
        Assert.Contains("--force", error);
    }
}
