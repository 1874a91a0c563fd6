using FaceForge.Detection;
using FaceForge.Imaging;
using Microsoft.AspNetCore.Http;

namespace FaceForge.Server;

/// <summary>
/// Reads the multipart field "image" of a request and decodes it within the service's limits: the byte limit while
/// reading, the pixel limit from the header before any pixel is decoded (a small file claiming 50,000 x 50,000 is
/// refused without allocating its pixels).
/// </summary>
internal static class ImageUpload
{
    public const string Field = "image";

    /// <summary>Multipart overhead allowed on top of the images' bytes (boundaries, headers).</summary>
    private const long Overhead = 64 * 1024;

    /// <summary>The decoded images of every "image" part, in order; exactly <paramref name="count"/> when given.</summary>
    public static async Task<List<(RgbImage Image, string Name)>> ReadAsync(HttpRequest request, FaceServerOptions options, int? count, CancellationToken cancel)
    {
        if (!request.HasFormContentType || !(request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            throw new ApiProblemException(415, "Unsupported media type", $"send the image as multipart/form-data in the field '{Field}' (got content type '{request.ContentType ?? "none"}').");
        // Verify takes two images; enrolment any number within two images' bytes (the host's body limit, FaceServer).
        long allowed = options.MaxImageBytes * (count ?? 2) + Overhead;
        if (request.ContentLength is long length && length > allowed)
            throw new ApiProblemException(413, "Payload too large", $"the request body is {length} bytes; the limit is {allowed} ({options.MaxImageBytes} per image).");
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(cancel);
        }
        catch (Exception e) when (e is InvalidDataException && e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase) || e is BadHttpRequestException { StatusCode: 413 })
        {
            throw new ApiProblemException(413, "Payload too large", $"the multipart body exceeds the limit of {allowed} bytes ({options.MaxImageBytes} per image).");
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !cancel.IsCancellationRequested)
        {
            throw new ApiProblemException(400, "Malformed multipart body", $"the multipart/form-data body cannot be read: {e.Message}");
        }
        var files = form.Files.GetFiles(Field);
        if (files.Count == 0)
            throw new ApiProblemException(400, "Missing image", $"no file in the multipart field '{Field}'" + (form.Files.Count > 0 ? $" (got field(s) {string.Join(", ", form.Files.Select(f => $"'{f.Name}'"))})." : "."));
        if (count is int expected && files.Count != expected)
            throw new ApiProblemException(400, "Wrong number of images", $"this endpoint takes {expected} file(s) in the field '{Field}'; got {files.Count}.");
        var images = new List<(RgbImage, string)>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            var file = files[i];
            string name = files.Count > 1 ? $"image {i + 1} ('{ApiProblemException.Quote(file.FileName, 60)}')" : $"image '{ApiProblemException.Quote(file.FileName, 60)}'";
            if (file.Length > options.MaxImageBytes)
                throw new ApiProblemException(413, "Payload too large", $"{name} is {file.Length} bytes; the limit is {options.MaxImageBytes}.");
            var bytes = new byte[file.Length];
            await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(bytes, cancel);
            images.Add((Decode(bytes, name, options.MaxImagePixels), name));
        }
        return images;
    }

    /// <summary>Checks the header's size against the side and pixel limits, then decodes.</summary>
    public static RgbImage Decode(byte[] bytes, string name, long maxPixels)
    {
        try
        {
            var (width, height) = ImageDecoder.Size(bytes, name);
            if (width < DetectorOptions.MinImageSide || height < DetectorOptions.MinImageSide)
                throw new ApiProblemException(422, "Image too small", $"{name} is {width}x{height}; faces are found in images of at least {DetectorOptions.MinImageSide}x{DetectorOptions.MinImageSide}.");
            if ((long)width * height > maxPixels)
                throw new ApiProblemException(413, "Image too large", $"{name} is {width}x{height} = {(long)width * height} pixels; the limit is {maxPixels}.");
            return ImageDecoder.Decode(bytes, name);
        }
        catch (InvalidDataException e)
        {
            throw new ApiProblemException(422, "Unreadable image", e.Message);
        }
    }
}
