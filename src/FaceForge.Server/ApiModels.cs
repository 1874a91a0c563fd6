namespace FaceForge.Server;

// The JSON bodies of the API (written snake_case). Records only: what the service says, nothing it does.

/// <summary>A face's box in image pixels.</summary>
public sealed record BoxJson(float Left, float Top, float Right, float Bottom);

/// <summary>What the enrolment gate looks at: eye distance, yaw, and the model's own quality when it has one.</summary>
public sealed record QualityJson(float InterOcularPixels, float Yaw, double? Model);

/// <summary>A detected face: box, detector score, five landmarks (x, y).</summary>
public sealed record DetectedFaceJson(BoxJson Box, float Score, float[][]? Landmarks);

/// <summary>POST /v1/detect.</summary>
public sealed record DetectResponse(int Width, int Height, IReadOnlyList<DetectedFaceJson> Faces);

/// <summary>A gallery subject found for a face.</summary>
public sealed record MatchJson(string Subject, double Score, long FaceId);

/// <summary>A face of an identify request: where, how good, whether it is known and who it may be.</summary>
public sealed record IdentifiedFaceJson(BoxJson Box, float Score, float[][]? Landmarks, QualityJson Quality, bool? Known, string? Subject, IReadOnlyList<MatchJson> Matches);

/// <summary>POST /v1/galleries/{g}/identify.</summary>
public sealed record IdentifyResponse(int Width, int Height, double? Threshold, string Index, IReadOnlyList<IdentifiedFaceJson> Faces);

/// <summary>A face compared by verify.</summary>
public sealed record VerifiedFaceJson(BoxJson Box, float Score, QualityJson Quality);

/// <summary>POST /v1/verify.</summary>
public sealed record VerifyResponse(double Score, double? Threshold, bool? Same, IReadOnlyList<VerifiedFaceJson> Faces);

/// <summary>A subject.</summary>
public sealed record SubjectJson(string Id, int Faces, IReadOnlyDictionary<string, string> Metadata);

/// <summary>GET /v1/galleries/{g}/subjects.</summary>
public sealed record SubjectsResponse(IReadOnlyList<SubjectJson> Subjects);

/// <summary>POST /v1/galleries/{g}/subjects body.</summary>
public sealed record CreateSubjectRequest(string? Id, Dictionary<string, string>? Metadata);

/// <summary>DELETE /v1/galleries/{g}/subjects/{id}.</summary>
public sealed record RemovedSubjectJson(string Id, int RemovedFaces);

/// <summary>POST /v1/galleries/{g}/subjects/{id}/faces: the faces stored, in the order of the images.</summary>
public sealed record EnrolResponse(string Subject, IReadOnlyList<long> FaceIds, IReadOnlyList<BoxJson> Boxes, IReadOnlyList<QualityJson> Quality, int SubjectFaces);

/// <summary>A stored face in a listing.</summary>
public sealed record FaceEntryJson(long Id, string Subject);

/// <summary>GET /v1/galleries/{g}/faces.</summary>
public sealed record FacesPageJson(int Total, int Offset, int Limit, IReadOnlyList<FaceEntryJson> Faces);

/// <summary>A gallery in /health.</summary>
public sealed record GalleryHealthJson(int Faces, int Subjects, string Index, double? Threshold);

/// <summary>GET /health.</summary>
public sealed record HealthResponse(string Status, string Model, IReadOnlyDictionary<string, GalleryHealthJson> Galleries, int QueueDepth);
