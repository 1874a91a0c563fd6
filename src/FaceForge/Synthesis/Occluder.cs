namespace FaceForge.Synthesis;

/// <summary>What covers part of a synthetic face.</summary>
public enum Occluder
{
    /// <summary>Nothing.</summary>
    None,
    /// <summary>Dark glasses over both eyes.</summary>
    Sunglasses,
    /// <summary>A medical mask over nose, mouth and chin.</summary>
    Mask,
    /// <summary>A hand over a random part of the face.</summary>
    Hand,
    /// <summary>A scarf over the chin and mouth.</summary>
    Scarf,
}
