// Array-level calls of the layer kernels (CKernels+NN) and the data both layer-kernel suites use.
import Foundation
import _TestSupport
@testable import FP8

/// Inputs that stress the kernels: mostly N(0, scale), with NaN, ±Inf, ±0, the FP32 extremes,
/// subnormals, the FP16 overflow boundary and values where exp and GELU change regime.
enum NNData {
  static let specials: [Float] = [
    .nan, -.nan, Float(bitPattern: 0x7F80_0001), .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude,
    -.greatestFiniteMagnitude, 0x1p-133, -0x1p-149, .leastNormalMagnitude, 65504, 65520, -65519.99, 1e30, -1e30, 16, -16,
    -10.3, 88.7, -103.9, -0.7518, 0x1p-20,
  ]

  /// n values; with `specials`, every 7th is one of the special values above.
  static func values(_ n: Int, seed: UInt64, scale: Float = 3, specials: Bool = true) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { i in
      if specials && i % 7 == 3 { return Self.specials[Int(rng.next() % UInt64(Self.specials.count))] }
      return normal(&rng) * scale
    }
  }

  static func normal(_ rng: inout SplitMix64) -> Float {
    let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 0x1p-60), u2 = Double(rng.next() >> 11) * 0x1p-53
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
  }
}

/// One array-in, array-out call per kernel (ISA and thread count explicit).
enum NN {
  /// `body` with the base addresses of `inputs` and `outputs`, as `withUnsafe(Mutable)BufferPointer`
  /// gives them (so an empty array passes what the kernels see from the Swift layers).
  static func withBases<R>(_ inputs: [[Float]], _ outputs: inout [[Float]], ins: [UnsafePointer<Float>?] = [],
                           outs: [UnsafeMutablePointer<Float>?] = [],
                           _ body: ([UnsafePointer<Float>?], [UnsafeMutablePointer<Float>?]) throws -> R) rethrows -> R {
    if let first = inputs.first {
      return try first.withUnsafeBufferPointer { p in
        try withBases(Array(inputs.dropFirst()), &outputs, ins: ins + [p.baseAddress], outs: outs, body)
      }
    }
    guard !outputs.isEmpty else { return try body(ins, outs) }
    var head = outputs.removeFirst(), rest = outputs
    defer { outputs = [head] + rest }
    return try head.withUnsafeMutableBufferPointer { p in
      try withBases([], &rest, ins: ins, outs: outs + [p.baseAddress], body)
    }
  }

  static func gelu(_ x: [Float], isa: ISA, threads: Int32) throws -> [Float] {
    var out = [[Float](repeating: 0, count: x.count)]
    try withBases([x], &out) { i, o in try CKernels.gelu(i[0], o[0], count: x.count, isa: isa.rawValue, threads: threads) }
    return out[0]
  }

  static func geluBackward(_ dy: [Float], _ x: [Float], isa: ISA, threads: Int32) throws -> [Float] {
    var out = [[Float](repeating: 0, count: x.count)]
    try withBases([dy, x], &out) { i, o in
      try CKernels.geluBackward(dy: i[0], x: i[1], dx: o[0], count: x.count, isa: isa.rawValue, threads: threads)
    }
    return out[0]
  }

  static func softmax(_ x: [Float], rows: Int, cols: Int, scale: Float, causal: Bool, round: ElementFormat = .f32,
                      isa: ISA, threads: Int32) throws -> [Float] {
    var out = [[Float](repeating: 0, count: rows * cols)]
    try withBases([x], &out) { i, o in
      try CKernels.softmax(i[0], o[0], rows: rows, cols: cols, scale: scale, causal: causal, round: round.rawValue,
                           isa: isa.rawValue, threads: threads)
    }
    return out[0]
  }

  static func softmaxBackward(p: [Float], dp: [Float], rows: Int, cols: Int, scale: Float, causal: Bool, isa: ISA,
                              threads: Int32) throws -> [Float] {
    var out = [[Float](repeating: 0, count: rows * cols)]
    try withBases([p, dp], &out) { i, o in
      try CKernels.softmaxBackward(p: i[0], dp: i[1], dx: o[0], rows: rows, cols: cols, scale: scale, causal: causal,
                                   isa: isa.rawValue, threads: threads)
    }
    return out[0]
  }

  struct LayerNormOut { var y: [Float], mean: [Float], rstd: [Float] }

  static func layerNorm(_ x: [Float], gamma: [Float], beta: [Float], rows: Int, d: Int, eps: Float = 1e-5,
                        round: ElementFormat = .f32, isa: ISA, threads: Int32) throws -> LayerNormOut {
    var out = [[Float](repeating: 0, count: rows * d), [Float](repeating: 0, count: rows), [Float](repeating: 0, count: rows)]
    try withBases([x, gamma, beta], &out) { i, o in
      try CKernels.layerNorm(x: i[0], gamma: i[1], beta: i[2], rows: rows, d: d, eps: eps, y: o[0], mean: o[1], rstd: o[2],
                             round: round.rawValue, isa: isa.rawValue, threads: threads)
    }
    return LayerNormOut(y: out[0], mean: out[1], rstd: out[2])
  }

  struct LayerNormGrads { var dx: [Float], dgamma: [Float], dbeta: [Float] }

  /// dgamma and dbeta start from `start` (the kernel accumulates into them).
  static func layerNormBackward(dy: [Float], x: [Float], mean: [Float], rstd: [Float], gamma: [Float], rows: Int,
                                d: Int, start: LayerNormGrads? = nil, isa: ISA, threads: Int32) throws -> LayerNormGrads {
    let g = start ?? LayerNormGrads(dx: [], dgamma: [Float](repeating: 0, count: d), dbeta: [Float](repeating: 0, count: d))
    var out = [[Float](repeating: 0, count: rows * d), g.dgamma, g.dbeta]
    try withBases([dy, x, mean, rstd, gamma], &out) { i, o in
      try CKernels.layerNormBackward(dy: i[0], x: i[1], mean: i[2], rstd: i[3], gamma: i[4], rows: rows, d: d, dx: o[0],
                                     dgamma: o[1], dbeta: o[2], isa: isa.rawValue, threads: threads)
    }
    return LayerNormGrads(dx: out[0], dgamma: out[1], dbeta: out[2])
  }

  static func biasBackward(_ dy: [Float], rows: Int, cols: Int, start: [Float], isa: ISA, threads: Int32) throws -> [Float] {
    var out = [start]
    try withBases([dy], &out) { i, o in
      try CKernels.biasBackward(dy: i[0], rows: rows, cols: cols, dbias: o[0], isa: isa.rawValue, threads: threads)
    }
    return out[0]
  }

  static func add(_ a: [Float], _ b: [Float], round: ElementFormat = .f32, isa: ISA, threads: Int32) throws -> [Float] {
    var out = [[Float](repeating: 0, count: a.count)]
    try withBases([a, b], &out) { i, o in
      try CKernels.add(i[0], i[1], o[0], count: a.count, round: round.rawValue, isa: isa.rawValue, threads: threads)
    }
    return out[0]
  }

  static func roundToFormat(_ x: [Float], _ round: ElementFormat, isa: ISA, threads: Int32) throws -> [Float] {
    var y = x
    try y.withUnsafeMutableBufferPointer { py in
      try CKernels.roundToFormat(py.baseAddress, count: x.count, round: round.rawValue, isa: isa.rawValue, threads: threads)
    }
    return y
  }

  static func crossEntropy(_ logits: [Float], rows: Int, vocab: Int, targets: [Int32], weights: [Float]?,
                           gradScale: Float, isa: ISA, threads: Int32) throws -> (loss: Float, dlogits: [Float]) {
    var dl = [Float](repeating: 0, count: rows * vocab)
    let loss = try logits.withUnsafeBufferPointer { pl in
      try targets.withUnsafeBufferPointer { pt in
        try dl.withUnsafeMutableBufferPointer { pd in
          if let weights {
            return try weights.withUnsafeBufferPointer { pw in
              try CKernels.crossEntropy(logits: pl.baseAddress, rows: rows, vocab: vocab, targets: pt.baseAddress,
                                        weights: pw.baseAddress, gradScale: gradScale, dlogits: pd.baseAddress,
                                        isa: isa.rawValue, threads: threads)
            }
          }
          return try CKernels.crossEntropy(logits: pl.baseAddress, rows: rows, vocab: vocab, targets: pt.baseAddress,
                                           weights: nil, gradScale: gradScale, dlogits: pd.baseAddress,
                                           isa: isa.rawValue, threads: threads)
        }
      }
    }
    return (loss, dl)
  }

  struct AdamWState: Equatable { var param: [Float], m: [Float], v: [Float] }

  static func adamW(_ s: AdamWState, grad: [Float], step: AdamWStep, isa: ISA, threads: Int32) throws -> AdamWState {
    var out = [s.param, s.m, s.v]
    try withBases([grad], &out) { i, o in
      try CKernels.adamW(param: o[0], m: o[1], v: o[2], grad: i[0], count: grad.count, step: step, isa: isa.rawValue,
                         threads: threads)
    }
    return AdamWState(param: out[0], m: out[1], v: out[2])
  }
}
