@testable import DataParallel
import Foundation
import MixedPrecision
import Testing
import _TestSupport

/// Oracles written from the format definitions (FP64 arithmetic, no kernel code).
enum Oracle {
  /// Round to nearest even onto an FP8 grid with `mantissa` bits and smallest normal exponent
  /// `emin` (subnormals below), values beyond `maxFinite` clamped to it (satfinite).
  static func fp8(_ v: Float, mantissa: Int, emin: Int, maxFinite: Double) -> Float {
    let a = Double(abs(v))
    let e = a == 0 ? emin : Swift.max(Int(a.exponent), emin)
    let ulp = Double(sign: .plus, exponent: e - mantissa, significand: 1)
    let r = Swift.min((a / ulp).rounded(.toNearestOrEven) * ulp, maxFinite)
    return Float(v.sign == .minus ? -r : r)
  }

  /// BF16 round to nearest even: the nearer of the two BF16 neighbours, ties to an even one.
  static func bf16(_ x: Float) -> Float {
    let down = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
    let up = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
    let dd = abs(Double(x) - Double(down)), du = abs(Double(up) - Double(x))
    if dd != du { return dd < du ? down : up }
    return (down.bitPattern >> 16) & 1 == 0 ? down : up
  }

  /// What the receivers decode from one rank's tensors.
  static func decoded(_ g: [[Float]], format: ExchangeFormat, globalAmax: [Float]) -> [[Float]] {
    g.enumerated().map { i, t in
      switch format {
      case .fp32: return t
      case .bf16: return t.map(bf16)
      case .e5m2:
        let a = globalAmax[i]
        let s = a > 0 ? Swift.max(a / 57344, Float.leastNormalMagnitude) : 1
        return t.map { fp8($0 / s, mantissa: 2, emin: -14, maxFinite: 57344) * s }
      case .e4m3Blockwise:
        var out = t
        for start in stride(from: 0, to: t.count, by: 128) {
          let tile = start..<Swift.min(start + 128, t.count)
          let amax = t[tile].map { abs($0) }.max()!
          let s = amax > 0 ? amax / 448 : 1
          for j in tile { out[j] = fp8(t[j] / s, mantissa: 3, emin: -6, maxFinite: 448) * s }
        }
        return out
      }
    }
  }
}

@Suite struct GradientExchangeTests {
  let counts = [1000, 300, 129, 1, 0, 256]

  func bits(_ t: [[Float]]) -> [UInt32] { t.joined().map(\.bitPattern) }

  @Test(arguments: ExchangeFormat.allCases, [1, 2, 4])
  func everyRankGetsTheOracleSum(format: ExchangeFormat, ranks: Int) throws {
    let counts = self.counts
    let leaf: @Sendable (Int) -> [[Float]] = { syntheticGradients(counts: counts, seed: 77, index: $0) }
    let results = try LocalGroup(size: ranks).run { c -> StepSums in
      let ex = try GradientExchange(communicator: c, format: format, counts: counts, microBatches: 4)
      return try ex.exchange(StepSums(gradients: AccumulationTree.sum(ex.share, leaf: leaf, add: AccumulationTree.add),
                                        loss: Float(c.rank) + 0.5, maxima: [Float(c.rank)]))
    }.map { try $0.get() }

    let shares = AccumulationTree.shares(of: 4, ranks: ranks)!
    let partial = shares.map { AccumulationTree.sum($0, leaf: leaf, add: AccumulationTree.add) }
    let globalAmax = counts.indices.map { i in partial.map { $0[i].map { abs($0) }.max() ?? 0 }.max()! }
    let decoded = partial.map { Oracle.decoded($0, format: format, globalAmax: globalAmax) }
    let expected = AccumulationTree.combine(shares, count: 4, node: { decoded[$0] }, add: AccumulationTree.add)
    var err = 0.0, sig = 0.0
    for (p, d) in zip(partial, decoded) {
      for (x, y) in zip(p.joined(), d.joined()) { err += (Double(x) - Double(y)) * (Double(x) - Double(y)); sig += Double(x) * Double(x) }
    }
    for (r, got) in results.enumerated() {
      #expect(bits(try #require(got.gradients)) == bits(expected), "\(format), rank \(r)/\(ranks)")
      #expect(got.maxima == [Float(ranks - 1)])
      #expect(got.loss == AccumulationTree.combine(shares, count: 4, node: { Float($0) + 0.5 }, add: +))
      #expect(got.exchange!.gradientBytes == format.gradientBytes(counts: counts))
      if format == .fp32 { #expect(got.exchange!.sqnrDB == .infinity) } else {
        #expect(abs(got.exchange!.sqnrDB - 10 * log10(sig / err)) < 1e-9)
      }
    }
    if format == .fp32 {
      #expect(bits(expected) == bits(AccumulationTree.sum(0..<4, leaf: leaf, add: AccumulationTree.add)))
    }
  }

  /// Bytes per rank and step, stated exactly: FP32 4n, BF16 2n, E5M2 n + 4T, E4M3 n + 4·Σ⌈nₜ/128⌉.
  @Test func bytesPerStep() {
    let n = counts.reduce(0, +)  // 1686 in 6 tensors; tiles 8 + 3 + 2 + 1 + 0 + 2 = 16
    #expect(ExchangeFormat.fp32.gradientBytes(counts: counts) == 4 * 1686)
    #expect(ExchangeFormat.bf16.gradientBytes(counts: counts) == 2 * 1686)
    #expect(ExchangeFormat.e5m2.gradientBytes(counts: counts) == n + 4 * 6)
    #expect(ExchangeFormat.e4m3Blockwise.gradientBytes(counts: counts) == n + 4 * 16)
    for f in ExchangeFormat.allCases {
      let codec = ExchangeCodec(format: f, counts: counts)
      // The payload holds the values and tile scales; the E5M2 amaxes travel in the control message.
      #expect(codec.payloadBytes + (f == .e5m2 ? 4 * counts.count : 0) == f.gradientBytes(counts: counts))
    }
  }

  @Test func aRankWithInfMakesEveryRankSkip() throws {
    let counts = self.counts
    for format in ExchangeFormat.allCases {
      let results = try LocalGroup(size: 4).run { c -> StepSums in
        let ex = try GradientExchange(communicator: c, format: format, counts: counts, microBatches: 4)
        var g = syntheticGradients(counts: counts, seed: 5, index: c.rank)
        if c.rank == 2 { g[1][3] = -.infinity }
        return try ex.exchange(StepSums(gradients: g, loss: 1, maxima: c.rank == 1 ? [.nan, 2] : [3, Float(c.rank)]))
      }.map { try $0.get() }
      for r in results {
        #expect(r.gradients == nil, "\(format)")
        #expect(r.maxima[0].isNaN && r.maxima[1] == 3)
        #expect(r.loss == 4)
        #expect(r.exchange!.gradientBytes == 0)
      }
    }
  }

  @Test func sharesThatAreNotNodesAreRefused() {
    let results = LocalGroup(size: 3).run { c in
      try GradientExchange(communicator: c, format: .fp32, counts: [1], microBatches: 4)
    }
    for r in results {
      #expect(throws: DataParallelError.self) { try r.get() }
    }
  }
}
