/// The fixed order in which the micro-batch gradients of one optimiser step are summed: a binary
/// tree over the micro-batch index 0..<M. A node covering `lo..<hi` with more than one
/// micro-batch splits at `lo + p`, `p` the largest power of two below `hi − lo`, and its sum is
/// (sum of the left part) + (sum of the right part), in FP32.
///
/// Because the order is a property of the index alone, data-parallel ranks that each own a node
/// (a contiguous run of micro-batches forming a subtree) and combine their node sums with the same
/// tree perform exactly the additions of a single process: the weights do not depend on the
/// number of ranks. A split of M micro-batches over N ranks is possible when every rank's share
/// `r·M/N ..< (r+1)·M/N` is a node, which holds when N divides M and M/N is a power of two
/// (M = 4: N = 1, 2, 4; M = 6: N = 3, 6; M = 12: N = 3, 6, 12).
public enum AccumulationTree {
  /// Where the node `range` (more than one element) splits.
  @inlinable
  public static func split(_ range: Range<Int>) -> Int {
    let n = range.count
    precondition(n > 1)
    return range.lowerBound + 1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
  }

  /// Whether `range` is a node of the tree over `0..<count`.
  public static func isNode(_ range: Range<Int>, of count: Int) -> Bool {
    var node = 0..<count
    while true {
      if node == range { return true }
      guard node.count > 1, node.contains(range.lowerBound) else { return false }
      let mid = split(node)
      if range.upperBound <= mid { node = node.lowerBound..<mid } else if range.lowerBound >= mid { node = mid..<node.upperBound } else { return false }
    }
  }

  /// The contiguous shares of `count` micro-batches for `ranks` ranks, or nil when some share is
  /// not a node (see the type's documentation).
  public static func shares(of count: Int, ranks: Int) -> [Range<Int>]? {
    guard ranks > 0, count > 0, count % ranks == 0 else { return nil }
    let per = count / ranks
    let s = (0..<ranks).map { r in r * per..<(r + 1) * per }
    return s.allSatisfy { isNode($0, of: count) } ? s : nil
  }

  /// Evaluates the subtree over `range`, where `leaf(i)` gives leaf `i` (called in increasing
  /// order) and `add` combines a left and a right sum.
  public static func sum<T, E: Error>(_ range: Range<Int>, leaf: (Int) throws(E) -> T, add: (T, T) -> T) throws(E) -> T {
    if range.count == 1 { return try leaf(range.lowerBound) }
    let mid = split(range)
    let left = try sum(range.lowerBound..<mid, leaf: leaf, add: add)
    return add(left, try sum(mid..<range.upperBound, leaf: leaf, add: add))
  }

  /// Evaluates the tree over `0..<count` from the sums of given nodes (the ranks' shares):
  /// `node(k)` is the sum over `nodes[k]`; the nodes cover `0..<count` in order.
  public static func combine<T, E: Error>(_ nodes: [Range<Int>], count: Int, node: (Int) throws(E) -> T,
                                          add: (T, T) -> T) throws(E) -> T {
    try combine(0..<count, nodes, node, add)
  }

  static func combine<T, E: Error>(_ range: Range<Int>, _ nodes: [Range<Int>], _ node: (Int) throws(E) -> T,
                                   _ add: (T, T) -> T) throws(E) -> T {
    if let k = nodes.firstIndex(of: range) { return try node(k) }
    let mid = split(range)
    let left = try combine(range.lowerBound..<mid, nodes, node, add)
    return add(left, try combine(mid..<range.upperBound, nodes, node, add))
  }

  /// Element-wise FP32 sum of two sets of tensors of the same shapes (the tree's addition).
  public static func add(_ a: [[Float]], _ b: [[Float]]) -> [[Float]] {
    var out = a
    for i in out.indices {
      out[i].withUnsafeMutableBufferPointer { O in
        b[i].withUnsafeBufferPointer { B in for j in 0..<O.count { O[j] += B[j] } }
      }
    }
    return out
  }
}
