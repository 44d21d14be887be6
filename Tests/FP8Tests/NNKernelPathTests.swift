import Foundation
import Testing
import _TestSupport
@testable import FP8

/// The layer kernels (cfp8_nn.h) and the batched GEMM give the scalar path's bits on every SIMD
/// path this CPU has and for 1, 2 and 3 threads, on random and adversarial data: NaN, ±Inf, ±0,
/// FP32 extremes, subnormals, rows of odd lengths (SIMD tails), and sizes above the threshold where
/// the kernels start threads (2^15 elements).
@Suite struct NNKernelPathTests {
  static let threadCounts: [Int32] = [1, 2, 3]

  /// Runs `body` on the scalar path with one thread, then on every path and thread count, and
  /// expects the same bits.
  func expectSameBits(_ what: String, _ body: (ISA, Int32) throws -> [Float]) throws {
    let ref = try body(.scalar, 1).map(\.bitPattern)
    for isa in ISA.supported {
      for t in Self.threadCounts {
        let out = try body(isa, t).map(\.bitPattern)
        let first = out.indices.first { $0 >= ref.count || out[$0] != ref[$0] }
        #expect(out.count == ref.count && first == nil,
                "\(what), \(isa), \(t) threads: first difference at \(first ?? -1): 0x\(String(first.map { out[$0] } ?? 0, radix: 16)) vs scalar 0x\(String(first.map { ref[$0] } ?? 0, radix: 16))")
      }
    }
  }

  @Test func gelu() throws {
    for n in [0, 1, 7, 16, 17, 63, 40_001] {
      let x = NNData.values(n, seed: UInt64(n) + 1, scale: 4)
      let dy = NNData.values(n, seed: UInt64(n) + 2)
      try expectSameBits("GELU n \(n)") { isa, t in try NN.gelu(x, isa: isa, threads: t) }
      try expectSameBits("GELU backward n \(n)") { isa, t in try NN.geluBackward(dy, x, isa: isa, threads: t) }
    }
  }

  static let softmaxShapes: [(rows: Int, cols: Int, causal: Bool)] = [
    (1, 1, false), (5, 3, true), (33, 17, true), (40, 31, false), (64, 64, true), (300, 131, false), (512, 256, true),
  ]

  @Test func softmax() throws {
    for (i, s) in Self.softmaxShapes.enumerated() {
      let x = NNData.values(s.rows * s.cols, seed: UInt64(100 + i), scale: 5)
      let dp = NNData.values(s.rows * s.cols, seed: UInt64(200 + i))
      for round in [ElementFormat.f32, .f16, .bf16] {
        try expectSameBits("softmax \(s) round \(round)") { isa, t in
          try NN.softmax(x, rows: s.rows, cols: s.cols, scale: 0.125, causal: s.causal, round: round, isa: isa, threads: t)
        }
      }
      let p = try NN.softmax(NNData.values(s.rows * s.cols, seed: UInt64(300 + i), specials: false), rows: s.rows,
                             cols: s.cols, scale: 1, causal: s.causal, isa: .scalar, threads: 1)
      for pIn in [p, x] { // probabilities, and adversarial values in their place
        try expectSameBits("softmax backward \(s)") { isa, t in
          try NN.softmaxBackward(p: pIn, dp: dp, rows: s.rows, cols: s.cols, scale: 0.25, causal: s.causal, isa: isa,
                                 threads: t)
        }
      }
    }
  }

  static let layerNormShapes: [(rows: Int, d: Int)] = [(1, 1), (7, 3), (33, 17), (97, 64), (300, 131), (40, 384)]

  @Test func layerNorm() throws {
    for (i, s) in Self.layerNormShapes.enumerated() {
      var x = NNData.values(s.rows * s.d, seed: UInt64(400 + i), scale: 2)
      if s.rows > 3 { for j in 0..<s.d { x[2 * s.d + j] = 7.25 } } // a row of zero variance
      let gamma = NNData.values(s.d, seed: UInt64(500 + i), specials: false).map { 1 + 0.1 * $0 }
      let beta = NNData.values(s.d, seed: UInt64(600 + i), specials: false).map { 0.1 * $0 }
      for round in [ElementFormat.f32, .f16, .bf16] {
        try expectSameBits("LayerNorm \(s) round \(round)") { isa, t in
          let o = try NN.layerNorm(x, gamma: gamma, beta: beta, rows: s.rows, d: s.d, round: round, isa: isa, threads: t)
          return o.y + o.mean + o.rstd
        }
      }
      // backward: clean rows and rows with specials, dgamma/dbeta accumulated onto nonzero values
      for (j, xIn) in [NNData.values(s.rows * s.d, seed: UInt64(700 + i), specials: false), x].enumerated() {
        let f = try NN.layerNorm(xIn, gamma: gamma, beta: beta, rows: s.rows, d: s.d, isa: .scalar, threads: 1)
        let dy = NNData.values(s.rows * s.d, seed: UInt64(800 + i), specials: j == 1)
        let start = NN.LayerNormGrads(dx: [], dgamma: NNData.values(s.d, seed: 9, specials: false),
                                      dbeta: NNData.values(s.d, seed: 10, specials: false))
        try expectSameBits("LayerNorm backward \(s) \(j)") { isa, t in
          let g = try NN.layerNormBackward(dy: dy, x: xIn, mean: f.mean, rstd: f.rstd, gamma: gamma, rows: s.rows,
                                           d: s.d, start: start, isa: isa, threads: t)
          return g.dx + g.dgamma + g.dbeta
        }
      }
    }
  }

  @Test func biasBackward() throws {
    for (rows, cols) in [(1, 5), (33, 17), (97, 64), (1000, 65)] {
      let dy = NNData.values(rows * cols, seed: UInt64(rows * cols))
      let start = NNData.values(cols, seed: 3, specials: false)
      try expectSameBits("bias backward \(rows)×\(cols)") { isa, t in
        try NN.biasBackward(dy, rows: rows, cols: cols, start: start, isa: isa, threads: t)
      }
    }
  }

  @Test func addAndRound() throws {
    for n in [1, 15, 16, 33, 40_001] {
      let a = NNData.values(n, seed: UInt64(n) + 11, scale: 3e4), b = NNData.values(n, seed: UInt64(n) + 12, scale: 3e4)
      for round in [ElementFormat.f32, .f16, .bf16] {
        try expectSameBits("add n \(n) round \(round)") { isa, t in try NN.add(a, b, round: round, isa: isa, threads: t) }
        try expectSameBits("round n \(n) to \(round)") { isa, t in try NN.roundToFormat(a, round, isa: isa, threads: t) }
      }
    }
  }

  @Test func crossEntropy() throws {
    for (rows, vocab) in [(1, 1), (9, 17), (300, 131)] {
      let logits = NNData.values(rows * vocab, seed: UInt64(rows + vocab), scale: 4)
      var rng = SplitMix64(seed: 77)
      let targets = (0..<rows).map { _ in Int32(rng.next() % UInt64(vocab)) }
      let weights = (0..<rows).map { r -> Float in r % 5 == 1 ? 0 : Float(1 + r % 3) }
      for (w, gs) in [(Optional(weights), Float(1)), (nil, 1024)] {
        try expectSameBits("cross-entropy \(rows)×\(vocab)") { isa, t in
          let r = try NN.crossEntropy(logits, rows: rows, vocab: vocab, targets: targets, weights: w, gradScale: gs,
                                      isa: isa, threads: t)
          return [r.loss] + r.dlogits
        }
      }
    }
  }

  @Test func adamW() throws {
    let n = 40_001
    let s = NN.AdamWState(param: NNData.values(n, seed: 21, scale: 0.1), m: NNData.values(n, seed: 22, scale: 0.01),
                          v: NNData.values(n, seed: 23, scale: 0.01, specials: false).map { $0 * $0 })
    let g = NNData.values(n, seed: 24, scale: 0.1)
    for wd: Float in [0, 0.1] {
      let step = AdamWStep(learningRate: 1e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: wd,
                           biasCorrection1: 1 - 0.9 * 0.9, biasCorrection2: 1 - 0.95 * 0.95)
      try expectSameBits("AdamW wd \(wd)") { isa, t in
        let o = try NN.adamW(s, grad: g, step: step, isa: isa, threads: t)
        return o.param + o.m + o.v
      }
    }
  }

  /// Attention's products through the batched GEMM, heads side by side in a [batch][seq][3d] buffer:
  /// every product equals cfp8_gemm on its own operands, on every path and thread count.
  @Test func batchedAttentionProducts() throws {
    for (batch, seq, heads, dh) in [(3, 5, 2, 3), (24, 32, 4, 16), (2, 40, 6, 17)] {
      let d = heads * dh, w = 3 * d
      let qkv = NNData.values(batch * seq * w, seed: UInt64(seq * heads), scale: 1)
      let sLen = batch * heads * seq * seq
      // S = Q·Kᵀ per (b, h): A = Q (seq × dh, ld 3d), B = Kᵀ (K stored seq × dh: transposed)
      let bt = GEMMBatch(outer: batch, inner: heads, aStrides: (seq * w, dh), bStrides: (seq * w, dh),
                         dStrides: (heads * seq * seq, seq * seq))
      func scores(_ isa: ISA, _ t: Int32) throws -> [Float] {
        var s = [Float](repeating: 0, count: sLen)
        var amax: Float = 0
        try qkv.withUnsafeBufferPointer { q in
          try s.withUnsafeMutableBufferPointer { ps in
            let a = GEMMOperandDescriptor(data: UnsafeRawPointer(q.baseAddress!), format: ElementFormat.f32.rawValue,
                                          transposed: false, leadingDimension: w)
            let b = GEMMOperandDescriptor(data: UnsafeRawPointer(q.baseAddress! + d), format: ElementFormat.f32.rawValue,
                                          transposed: true, leadingDimension: w)
            try CKernels.gemm(batch: bt, m: seq, n: seq, k: dh, a: a, b: b, mode: .none, aScales: nil,
                                     bScales: nil, alpha: 0.25, beta: 0, c: nil, ldc: 0, bias: nil,
                                     d: UnsafeMutableRawPointer(ps.baseAddress!), dFormat: ElementFormat.f32.rawValue,
                                     ldd: seq, dScale: 1, amax: &amax, isa: isa.rawValue, threads: t)
          }
        }
        return s + [amax]
      }
      try expectSameBits("batched QKᵀ \(batch)×\(heads)×\(seq)×\(dh)") { isa, t in try scores(isa, t) }
      // each product against cfp8_gemm alone
      let all = try scores(.scalar, 1)
      var amax: Float = 0
      for bi in 0..<batch {
        for h in 0..<heads {
          var one = [Float](repeating: 0, count: seq * seq)
          try qkv.withUnsafeBufferPointer { q in
            try one.withUnsafeMutableBufferPointer { po in
              let base = q.baseAddress! + bi * seq * w + h * dh
              try CKernels.gemm(
                m: seq, n: seq, k: dh,
                a: GEMMOperandDescriptor(data: UnsafeRawPointer(base), format: ElementFormat.f32.rawValue, transposed: false,
                                         leadingDimension: w),
                b: GEMMOperandDescriptor(data: UnsafeRawPointer(base + d), format: ElementFormat.f32.rawValue,
                                         transposed: true, leadingDimension: w),
                mode: .none, aScales: nil, bScales: nil, aMX: nil, bMX: nil, alpha: 0.25, beta: 0, c: nil, ldc: 0,
                bias: nil, d: UnsafeMutableRawPointer(po.baseAddress!), dFormat: ElementFormat.f32.rawValue, ldd: seq,
                dScale: 1, amax: nil, isa: ISA.scalar.rawValue, threads: 1)
            }
          }
          let o = (bi * heads + h) * seq * seq
          #expect(one.map(\.bitPattern) == all[o..<o + seq * seq].map(\.bitPattern), "product (\(bi), \(h))")
          for v in one where v.isNaN || abs(v) > amax { amax = v.isNaN ? .nan : abs(v) }
        }
      }
      #expect(all.last!.bitPattern == amax.bitPattern || (all.last!.isNaN && amax.isNaN), "amax over the batch")
    }
  }

  @Test func badArgumentsThrow() {
    let x: [Float] = [1, 2, 3, 4]
    var y = x
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        let p = px.baseAddress, q = py.baseAddress
        #expect(throws: FP8Error.self) { try CKernels.gelu(nil, q, count: 4, isa: -1, threads: 0) }
        #expect(throws: FP8Error.self) { try CKernels.gelu(p, q, count: -1, isa: -1, threads: 0) }
        #expect(throws: FP8Error.self) { try CKernels.gelu(p, q, count: 4, isa: -1, threads: -1) }
        #expect(throws: FP8Error.self) { try CKernels.add(p, p, q, count: 4, round: ElementFormat.e4m3.rawValue, isa: -1, threads: 0) }
        #expect(throws: FP8Error.self) {
          try CKernels.softmax(p, q, rows: 2, cols: 0, scale: 1, causal: true, round: ElementFormat.f32.rawValue, isa: -1, threads: 0)
        }
        #expect(throws: FP8Error.self) {
          try CKernels.softmax(p, q, rows: 2, cols: 2, scale: .nan, causal: true, round: ElementFormat.f32.rawValue, isa: -1, threads: 0)
        }
        #expect(throws: FP8Error.self) {
          try CKernels.layerNorm(x: p, gamma: p, beta: nil, rows: 2, d: 2, eps: 1e-5, y: q, mean: nil, rstd: nil,
                                 round: ElementFormat.f32.rawValue, isa: -1, threads: 0)
        }
        let bad: [Int32] = [0, 7]
        bad.withUnsafeBufferPointer { pt in
          _ = #expect(throws: FP8Error.self) {
            _ = try CKernels.crossEntropy(logits: p, rows: 2, vocab: 2, targets: pt.baseAddress, weights: nil, gradScale: 1,
                                          dlogits: q, isa: -1, threads: 0)
          }
        }
        let step = AdamWStep(learningRate: .infinity, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0,
                             biasCorrection1: 1, biasCorrection2: 1)
        #expect(throws: FP8Error.self) { try CKernels.adamW(param: q, m: q, v: q, grad: p, count: 4, step: step, isa: -1, threads: 0) }
      }
    }
    // the unsupported-ISA error where a path is missing
    if let missing = [ISA.avx2, .avx512, .neon].first(where: { !$0.isSupported }) {
      #expect(throws: FP8Error.self) { _ = try NN.gelu(x, isa: missing, threads: 1) }
    }
  }
}
