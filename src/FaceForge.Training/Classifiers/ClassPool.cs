using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Classifiers;

/// <summary>
/// FFC's dynamic class pool: <see cref="Capacity"/> entries, each an identity with two feature slots, replaced least
/// recently used first. Writing an identity's feature touches its entry (a new identity takes a free entry, else the
/// least recently used one) and fills the entry's next slot, alternating, so an identity seen twice holds two
/// features. A write may be tentative: <see cref="Rollback"/> then restores the slots, the slot positions and the LRU
/// order exactly (FFC's first pass of a step scores against the pool with the identity batch written, then undoes it).
/// Memory: 2 x Q x d floats and a few integers per entry, whatever the number of identities.
/// </summary>
/// <remarks>Not thread-safe.</remarks>
public sealed class ClassPool : IDisposable
{
    private const int None = -1;
    private readonly Dictionary<long, int> _entryOf = [];
    private readonly long[] _identity;     // identity held by each entry, -1 when free
    private readonly byte[] _position;     // slot the entry's next write goes to
    private readonly int[] _older, _newer; // the LRU list, least recent at _oldest
    private int _oldest = None, _newest = None, _used;
    private List<Undo>? _journal;
    private (Tensor Rows, Tensor Entries, Tensor Old)? _overwritten;

    /// <summary>An empty pool of <paramref name="capacity"/> entries of <paramref name="embeddingSize"/> floats.</summary>
    public ClassPool(int capacity, int embeddingSize)
    {
        if (capacity < 1) throw new ArgumentException($"The class pool needs at least one entry (got {capacity}).", nameof(capacity));
        if (embeddingSize < 1) throw new ArgumentException($"Embedding size must be positive (got {embeddingSize}).", nameof(embeddingSize));
        Capacity = capacity;
        EmbeddingSize = embeddingSize;
        Slots = torch.zeros([2, capacity, embeddingSize]).DetachFromDisposeScope();
        _identity = new long[capacity];
        Array.Fill(_identity, None);
        _position = new byte[capacity];
        _older = new int[capacity];
        _newer = new int[capacity];
    }

    /// <summary>Q, the number of entries.</summary>
    public int Capacity { get; }

    /// <summary>d.</summary>
    public int EmbeddingSize { get; }

    /// <summary>Entries holding an identity.</summary>
    public int Count => _used;

    /// <summary>The features, 2 x Q x d (slot, entry, dimension); rows of free entries are zero.</summary>
    public Tensor Slots { get; }

    /// <summary>Bytes the pool holds: the slots plus the per-entry bookkeeping and the identity map.</summary>
    public long Bytes => Slots.numel() * sizeof(float) + Capacity * (sizeof(long) + 1 + 2 * sizeof(int)) + _entryOf.Count * 24L;

    /// <summary>The entry of <paramref name="identity"/>, or -1 when the pool does not hold it; the LRU order is not touched.</summary>
    public int EntryOf(long identity) => _entryOf.TryGetValue(identity, out int entry) ? entry : None;

    /// <summary>Entries holding an identity (Q booleans).</summary>
    public Tensor Occupied() => torch.tensor(_identity.Select(i => i != None).ToArray());

    /// <summary>
    /// Writes <paramref name="features"/> (N x d, normalised) of <paramref name="identities"/> in order, and returns the
    /// entries that already held their identity before this write (FFC scores their second slot too). With
    /// <paramref name="tentative"/>, <see cref="Rollback"/> undoes the write.
    /// </summary>
    public IReadOnlySet<int> Write(Tensor features, IReadOnlyList<long> identities, bool tentative)
    {
        if (features.dim() != 2 || features.shape[1] != EmbeddingSize || features.shape[0] != identities.Count)
            throw new ArgumentException($"Pool features must be {identities.Count} x {EmbeddingSize} (got [{string.Join(", ", features.shape)}]).", nameof(features));
        if (_journal is not null) throw new InvalidOperationException("A tentative write is pending; roll it back first.");
        // Checked before anything changes, so a refused write leaves the pool as it was.
        if (identities.FirstOrDefault(i => i < 0, 0) is var bad and < 0) throw new ArgumentException($"Identity labels must be non-negative (got {bad}).", nameof(identities));
        if (tentative) _journal = [];
        var existing = new HashSet<int>();
        // The last write to a (slot, entry) wins, as the writes happen in order; one index_put with unique targets.
        var targets = new Dictionary<(int Slot, int Entry), int>();
        for (int i = 0; i < identities.Count; i++)
        {
            long identity = identities[i];
            int slot;
            if (_entryOf.TryGetValue(identity, out int entry))
            {
                _journal?.Add(new Undo(entry, _older[entry], _identity[entry], _position[entry], Inserted: false));
                slot = _position[entry];
                _position[entry] ^= 1;
                existing.Add(entry);
                Unlink(entry);
            }
            else
            {
                entry = _used < Capacity ? _used : _oldest;
                _journal?.Add(new Undo(entry, entry < _used ? _older[entry] : None, _identity[entry], _position[entry], Inserted: true));
                if (entry < _used)
                {
                    _entryOf.Remove(_identity[entry]);
                    existing.Remove(entry); // evicted by this very write: now another identity's, with one slot
                    Unlink(entry);
                }
                else _used++;
                _entryOf[identity] = entry;
                _identity[entry] = identity;
                slot = 0;
                _position[entry] = 1;
            }
            AppendNewest(entry);
            targets[(slot, entry)] = i;
        }
        if (targets.Count > 0)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var rows = torch.tensor(targets.Keys.Select(t => (long)t.Slot).ToArray());
            var entries = torch.tensor(targets.Keys.Select(t => (long)t.Entry).ToArray());
            var source = features.detach().to_type(ScalarType.Float32).index_select(0, torch.tensor(targets.Values.Select(v => (long)v).ToArray()));
            if (tentative) _overwritten = (rows.DetachFromDisposeScope(), entries.DetachFromDisposeScope(), Slots.index([rows, entries]).DetachFromDisposeScope());
            Slots.index_put_(source, rows, entries);
        }
        return existing;
    }

    /// <summary>Undoes the pending tentative <see cref="Write"/>: slots, positions, identities and LRU order as they were.</summary>
    public void Rollback()
    {
        if (_journal is null) throw new InvalidOperationException("No tentative write to roll back.");
        if (_overwritten is { } o)
        {
            using var noGrad = torch.no_grad();
            Slots.index_put_(o.Old, o.Rows, o.Entries);
            o.Rows.Dispose();
            o.Entries.Dispose();
            o.Old.Dispose();
            _overwritten = null;
        }
        // In reverse, each entry goes back behind the neighbour it had: later moves are already undone, so that
        // neighbour sits where it was.
        for (int k = _journal.Count - 1; k >= 0; k--)
        {
            var undo = _journal[k];
            int entry = undo.Entry;
            Unlink(entry);
            if (undo.Inserted)
            {
                _entryOf.Remove(_identity[entry]);
                if (undo.Identity == None)
                {
                    _used--; // entries are handed out in order, so the last one handed out is the one returned
                    _identity[entry] = None;
                    _position[entry] = 0;
                        continue;
                }
                _entryOf[undo.Identity] = entry;
            }
            _identity[entry] = undo.Identity;
            _position[entry] = undo.Position;
            InsertAfter(entry, undo.Older);
        }
        _journal = null;
    }

    /// <summary>The identities from least to most recently used, with their entries, slot and slot positions (for checkpoints).</summary>
    public IReadOnlyList<(long Identity, int Entry, int Position)> Order()
    {
        var order = new List<(long, int, int)>(_used);
        for (int e = _oldest; e != None; e = _newer[e]) order.Add((_identity[e], e, _position[e]));
        return order;
    }

    /// <summary>Restores <see cref="Order"/>'s state (the slots are copied separately); checks that it is consistent.</summary>
    public void Restore(IReadOnlyList<(long Identity, int Entry, int Position)> order, string source)
    {
        if (_journal is not null) throw new InvalidOperationException("A tentative write is pending.");
        if (order.Count > Capacity) throw new InvalidDataException($"{source}: the pool holds {order.Count} identities; this run's pool has {Capacity} entries.");
        var entries = order.Select(o => o.Entry).ToHashSet();
        if (entries.Count != order.Count || order.Any(o => o.Entry < 0 || o.Entry >= order.Count || o.Identity < 0 || o.Position is not (0 or 1))
            || order.Select(o => o.Identity).Distinct().Count() != order.Count)
            throw new InvalidDataException($"{source}: the pool's LRU order is inconsistent (entries must be 0..{order.Count - 1} once each, identities distinct).");
        _entryOf.Clear();
        Array.Fill(_identity, None);
        Array.Clear(_position);
        _oldest = _newest = None;
        _used = order.Count;
        foreach (var (identity, entry, position) in order)
        {
            _entryOf[identity] = entry;
            _identity[entry] = identity;
            _position[entry] = (byte)position;
            AppendNewest(entry);
        }
    }

    private void Unlink(int entry)
    {
        int older = _older[entry], newer = _newer[entry];
        if (older != None) _newer[older] = newer; else _oldest = newer;
        if (newer != None) _older[newer] = older; else _newest = older;
    }

    private void AppendNewest(int entry) => InsertAfter(entry, _newest);

    /// <summary>Links <paramref name="entry"/> right after <paramref name="older"/> (-1: as the oldest).</summary>
    private void InsertAfter(int entry, int older)
    {
        int newer = older == None ? _oldest : _newer[older];
        _older[entry] = older;
        _newer[entry] = newer;
        if (older != None) _newer[older] = entry; else _oldest = entry;
        if (newer != None) _older[newer] = entry; else _newest = entry;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Slots.Dispose();
        if (_overwritten is { } o) { o.Rows.Dispose(); o.Entries.Dispose(); o.Old.Dispose(); }
    }

    /// <summary>What one write changed of one entry: its place in the LRU list (the entry older than it), identity and position.</summary>
    private readonly record struct Undo(int Entry, int Older, long Identity, byte Position, bool Inserted);
}
