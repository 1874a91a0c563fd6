namespace FaceForge.Server;

/// <summary>What an API key may do; each scope includes the ones before it.</summary>
public enum ApiScope
{
    /// <summary>Detect, verify, identify, list.</summary>
    Read = 1,

    /// <summary>Also create subjects, enrol faces, delete subjects.</summary>
    Write = 2,

    /// <summary>Also the operator's endpoints (/metrics).</summary>
    Admin = 3,
}
