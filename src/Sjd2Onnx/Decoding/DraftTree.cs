namespace Sjd2Onnx.Decoding;

/// <summary>
/// The tokens one pass of <see cref="PacDecoder"/> feeds, as a tree in window order: each node is
/// a slot with a token, a parent (the node before it in its context; −1 for the first) and a rank
/// among its siblings (0 = the slot's own draft with its stored q, higher = an alternative
/// candidate, one-hot). A chain is the tree whose every parent is the node before it. Parents
/// always come before their children, so the window order is a valid causal order. Buffers are
/// allocated once.
/// </summary>
internal sealed class DraftTree
{
    private readonly int[] _slot, _token, _parent, _rank, _firstChild, _lastChild, _nextSibling, _depth;

    public DraftTree(int capacity)
    {
        _slot = new int[capacity];
        _token = new int[capacity];
        _parent = new int[capacity];
        _rank = new int[capacity];
        _firstChild = new int[capacity];
        _lastChild = new int[capacity];
        _nextSibling = new int[capacity];
        _depth = new int[capacity];
    }

    /// <summary>Nodes in the tree (tokens the pass feeds).</summary>
    public int Count { get; private set; }

    /// <summary>Whether every node's parent is the node before it (a plain SJD window).</summary>
    public bool IsChain { get; private set; } = true;

    public int Capacity => _slot.Length;

    public int Slot(int node) => _slot[node];
    public int Token(int node) => _token[node];
    public int Parent(int node) => _parent[node];
    public int Rank(int node) => _rank[node];

    /// <summary>Tree depth of a node: 0 for the first, parent's + 1 otherwise (the position offset from the first).</summary>
    public int Depth(int node) => _depth[node];

    /// <summary>First child of a node, −1 for a leaf.</summary>
    public int FirstChild(int node) => _firstChild[node];

    /// <summary>Next sibling in rank order, −1 after the last.</summary>
    public int NextSibling(int node) => _nextSibling[node];

    public void Clear()
    {
        Count = 0;
        IsChain = true;
    }

    /// <summary>Appends a node under <paramref name="parent"/> (−1 only for the first) as its last child; returns its index.</summary>
    public int Add(int slot, int token, int parent, int rank)
    {
        int node = Count++;
        _slot[node] = slot;
        _token[node] = token;
        _parent[node] = parent;
        _rank[node] = rank;
        _firstChild[node] = _lastChild[node] = _nextSibling[node] = -1;
        _depth[node] = parent < 0 ? 0 : _depth[parent] + 1;
        if (parent >= 0)
        {
            if (_firstChild[parent] < 0) _firstChild[parent] = node;
            else _nextSibling[_lastChild[parent]] = node;
            _lastChild[parent] = node;
        }
        if (parent != node - 1) IsChain = false;
        return node;
    }

    /// <summary>Whether <paramref name="ancestor"/> is <paramref name="node"/> or lies on its path to the first node.</summary>
    public bool IsAncestorOrSelf(int ancestor, int node)
    {
        for (int v = node; v >= 0; v = _parent[v])
        {
            if (v == ancestor) return true;
            if (v < ancestor) return false;
        }
        return false;
    }
}
