import MixedPrecision
import Testing
import _TestSupport

@Suite struct AccumulationTreeTests {
  /// The tree's shape, written out: the leaves' sums as parenthesised expressions.
  func shape(_ range: Range<Int>) -> String {
    AccumulationTree.sum(range, leaf: { "\($0)" }, add: { "(\($0)+\($1))" })
  }

  @Test func shapeSplitsAtTheLargestPowerOfTwoBelowTheCount() {
    #expect(shape(0..<1) == "0")
    #expect(shape(0..<3) == "((0+1)+2)")
    #expect(shape(0..<4) == "((0+1)+(2+3))")
    #expect(shape(0..<5) == "(((0+1)+(2+3))+4)")
    #expect(shape(0..<6) == "(((0+1)+(2+3))+(4+5))")
    #expect(shape(0..<8) == "(((0+1)+(2+3))+((4+5)+(6+7)))")
    #expect(shape(2..<5) == "((2+3)+4)")
  }

  @Test func sharesAreNodesOrNil() {
    #expect(AccumulationTree.shares(of: 4, ranks: 1) == [0..<4])
    #expect(AccumulationTree.shares(of: 4, ranks: 2) == [0..<2, 2..<4])
    #expect(AccumulationTree.shares(of: 4, ranks: 4) == [0..<1, 1..<2, 2..<3, 3..<4])
    #expect(AccumulationTree.shares(of: 4, ranks: 3) == nil)
    #expect(AccumulationTree.shares(of: 4, ranks: 8) == nil)
    #expect(AccumulationTree.shares(of: 6, ranks: 3) == [0..<2, 2..<4, 4..<6])
    #expect(AccumulationTree.shares(of: 6, ranks: 2) == nil)  // 0..<3 is not a node of ((0..<4), (4..<6))
    #expect(AccumulationTree.shares(of: 12, ranks: 3) == [0..<4, 4..<8, 8..<12])
    #expect(AccumulationTree.shares(of: 12, ranks: 6) != nil)
    #expect(AccumulationTree.shares(of: 12, ranks: 4) == nil)
  }

  /// Combining the ranks' subtree sums with the tree performs the single-process additions.
  @Test func combiningRankSumsGivesTheSingleProcessShape() {
    for (m, ranks) in [(4, 2), (4, 4), (6, 3), (8, 2), (8, 4), (12, 3), (12, 6), (16, 8)] {
      let shares = AccumulationTree.shares(of: m, ranks: ranks)!
      let combined = AccumulationTree.combine(shares, count: m, node: { shape(shares[$0]) }, add: { "(\($0)+\($1))" })
      #expect(combined == shape(0..<m), "M = \(m), N = \(ranks)")
    }
  }

  /// The same, on FP32 values where the order changes the bits.
  @Test func combinedFP32SumsAreBitIdentical() {
    let counts = [777, 5]
    let leaf = { (i: Int) in syntheticGradients(counts: counts, seed: 9, index: i) }
    let single = AccumulationTree.sum(0..<8, leaf: leaf, add: AccumulationTree.add)
    var sequential = leaf(0)
    for i in 1..<8 { sequential = AccumulationTree.add(sequential, leaf(i)) }
    #expect(single.joined().map(\.bitPattern) != sequential.joined().map(\.bitPattern), "the data should be order-sensitive")
    for ranks in [1, 2, 4, 8] {
      let shares = AccumulationTree.shares(of: 8, ranks: ranks)!
      let partial = shares.map { AccumulationTree.sum($0, leaf: leaf, add: AccumulationTree.add) }
      let combined = AccumulationTree.combine(shares, count: 8, node: { partial[$0] }, add: AccumulationTree.add)
      #expect(combined.joined().map(\.bitPattern) == single.joined().map(\.bitPattern), "N = \(ranks)")
    }
  }
}
