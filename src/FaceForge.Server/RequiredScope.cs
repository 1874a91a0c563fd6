namespace FaceForge.Server;

/// <summary>Endpoint metadata: the scope an API key needs for it (endpoints without it need no key).</summary>
internal sealed record RequiredScope(ApiScope Scope);
