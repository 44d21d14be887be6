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
  static func gelu(_ x: [Float], isa: ISA, threads: Int32) throws -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    try x.withUnsafeBufferPointer { px in
      try y.withUnsafeMutableBufferPointer { py in
        try CKernels.gelu(px.baseAddress, py.baseAddress, count: x.count, isa: isa.rawValue, threads: threads)
      }
    }
    return y
  }

  static func geluBackward(_ dy: [Float], _ x: [Float], isa: ISA, threads: Int32) throws -> [Float] {
    var dx = [Float](repeating: 0, count: x.count)
    try dy.withUnsafeBufferPointer { pd in
      try x.withUnsafeBufferPointer { px in
        try dx.withUnsafeMutableBufferPointer { po in
          try CKernels.geluBackward(dy: pd.baseAddress, x: px.baseAddress, dx: po.baseAddress, count: x.count,
                                    isa: isa.rawValue, threads: threads)
        }
      }
    }
    return dx
  }

  static func softmax(_ x: [Float], rows: Int, cols: Int, scale: Float, causal: Bool, round: ElementFormat = .f32,
                      isa: ISA, threads: Int32) throws -> [Float] {
    var y = [Float](repeating: 0, count: rows * cols)
    try x.withUnsafeBufferPointer { px in
      try y.withUnsafeMutableBufferPointer { py in
        try CKernels.softmax(px.baseAddress, py.baseAddress, rows: rows, cols: cols, scale: scale, causal: causal,
                             round: round.rawValue, isa: isa.rawValue, threads: threads)
      }
    }
    return y
  }

  static func softmaxBackward(p: [Float], dp: [Float], rows: Int, cols: Int, scale: Float, causal: Bool, isa: ISA,
                              threads: Int32) throws -> [Float] {
    var dx = [Float](repeating: 0, count: rows * cols)
    try p.withUnsafeBufferPointer { pp in
      try dp.withUnsafeBufferPointer { pd in
        try dx.withUnsafeMutableBufferPointer { po in
          try CKernels.softmaxBackward(p: pp.baseAddress, dp: pd.baseAddress, dx: po.baseAddress, rows: rows,
                                       cols: cols, scale: scale, causal: causal, isa: isa.rawValue, threads: threads)
        }
      }
    }
    return dx
  }

  struct LayerNormOut { var y: [Float], mean: [Float], rstd: [Float] }

  static func layerNorm(_ x: [Float], gamma: [Float], beta: [Float], rows: Int, d: Int, eps: Float = 1e-5,
                        round: ElementFormat = .f32, isa: ISA, threads: Int32) throws -> LayerNormOut {
    var o = LayerNormOut(y: [Float](repeating: 0, count: rows * d), mean: [Float](repeating: 0, count: rows),
                         rstd: [Float](repeating: 0, count: rows))
    try x.withUnsafeBufferPointer { px in
      try gamma.withUnsafeBufferPointer { pg in
        try beta.withUnsafeBufferPointer { pb in
          try o.y.withUnsafeMutableBufferPointer { py in
            try o.mean.withUnsafeMutableBufferPointer { pm in
              try o.rstd.withUnsafeMutableBufferPointer { pr in
                try CKernels.layerNorm(x: px.baseAddress, gamma: pg.baseAddress, beta: pb.baseAddress, rows: rows,
                                       d: d, eps: eps, y: py.baseAddress, mean: pm.baseAddress, rstd: pr.baseAddress,
                                       round: round.rawValue, isa: isa.rawValue, threads: threads)
              }
            }
          }
        }
      }
    }
    return o
  }

  struct LayerNormGrads { var dx: [Float], dgamma: [Float], dbeta: [Float] }

  /// dgamma and dbeta start from `start` (the kernel accumulates into them).
  static func layerNormBackward(dy: [Float], x: [Float], mean: [Float], rstd: [Float], gamma: [Float], rows: Int,
                                d: Int, start: LayerNormGrads? = nil, isa: ISA, threads: Int32) throws -> LayerNormGrads {
    var g = start ?? LayerNormGrads(dx: [], dgamma: [Float](repeating: 0, count: d), dbeta: [Float](repeating: 0, count: d))
    g.dx = [Float](repeating: 0, count: rows * d)
    try dy.withUnsafeBufferPointer { pdy in
      try x.withUnsafeBufferPointer { px in
        try mean.withUnsafeBufferPointer { pm in
          try rstd.withUnsafeBufferPointer { pr in
            try gamma.withUnsafeBufferPointer { pg in
              try g.dx.withUnsafeMutableBufferPointer { pdx in
                try g.dgamma.withUnsafeMutableBufferPointer { pdg in
                  try g.dbeta.withUnsafeMutableBufferPointer { pdb in
                    try CKernels.layerNormBackward(
                      dy: pdy.baseAddress, x: px.baseAddress, mean: pm.baseAddress, rstd: pr.baseAddress,
                      gamma: pg.baseAddress, rows: rows, d: d, dx: pdx.baseAddress, dgamma: pdg.baseAddress,
                      dbeta: pdb.baseAddress, isa: isa.rawValue, threads: threads)
                  }
                }
              }
            }
          }
        }
      }
    }
    return g
  }

  static func biasBackward(_ dy: [Float], rows: Int, cols: Int, start: [Float], isa: ISA, threads: Int32) throws -> [Float] {
    var db = start
    try dy.withUnsafeBufferPointer { pd in
      try db.withUnsafeMutableBufferPointer { pb in
        try CKernels.biasBackward(dy: pd.baseAddress, rows: rows, cols: cols, dbias: pb.baseAddress, isa: isa.rawValue,
                                  threads: threads)
      }
    }
    return db
  }

  static func add(_ a: [Float], _ b: [Float], round: ElementFormat = .f32, isa: ISA, threads: Int32) throws -> [Float] {
    var y = [Float](repeating: 0, count: a.count)
    try a.withUnsafeBufferPointer { pa in
      try b.withUnsafeBufferPointer { pb in
        try y.withUnsafeMutableBufferPointer { py in
          try CKernels.add(pa.baseAddress, pb.baseAddress, py.baseAddress, count: a.count, round: round.rawValue,
                           isa: isa.rawValue, threads: threads)
        }
      }
    }
    return y
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
    var o = s
    try o.param.withUnsafeMutableBufferPointer { pp in
      try o.m.withUnsafeMutableBufferPointer { pm in
        try o.v.withUnsafeMutableBufferPointer { pv in
          try grad.withUnsafeBufferPointer { pg in
            try CKernels.adamW(param: pp.baseAddress, m: pm.baseAddress, v: pv.baseAddress, grad: pg.baseAddress,
                               count: grad.count, step: step, isa: isa.rawValue, threads: threads)
          }
        }
      }
    }
    return o
  }
}
