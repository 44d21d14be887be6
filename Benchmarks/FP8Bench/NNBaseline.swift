// The baseline of `fp8-bench nn`: the Swift code the training engine runs today for each operation,
// its formulas copied from Sources/MixedPrecision (Layers.swift, MatmulEngine.swift, Optimizer.swift)
// and specialised to Float, so that the benchmark measures what the C kernels replace.
import FP8
import Foundation

enum SwiftBaseline {
  // MARK: GELU (Layers.geluParts, libm tanhf)

  @inline(__always) static func geluParts(_ x: Float) -> (Float, Float) {
    let c: Float = 0.7978845608028654
    let u = c * (x + 0.044715 * x * x * x)
    let t = tanhf(u)
    let y = 0.5 * x * (1 + t)
    let du = c * (1 + 3 * 0.044715 * x * x)
    return (y, 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
  }

  static func gelu(_ x: [Float]) -> [Float] { x.map { geluParts($0).0 } }

  static func geluBackward(_ dy: [Float], _ x: [Float]) -> [Float] {
    var dx = dy
    for i in 0..<x.count { dx[i] = dy[i] * geluParts(x[i]).1 }
    return dx
  }

  // MARK: attention (Layers.attentionForward / attentionBackward)

  /// The causal softmax of attentionForward on precomputed dot products (rows of seq; row r is
  /// position r mod seq), libm expf, FP16 probabilities when asked.
  static func softmaxCausal(_ scores: [Float], rows: Int, seq: Int, scale: Float, fp16: Bool) -> [Float] {
    var probs = [Float](repeating: 0, count: rows * seq)
    var s = [Float](repeating: 0, count: seq)
    for r in 0..<rows {
      let i = r % seq
      var mx = -Float.infinity
      for j in 0...i {
        s[j] = scores[r * seq + j] * scale
        if s[j] > mx { mx = s[j] }
      }
      var z: Float = 0
      for j in 0...i { s[j] = expf(s[j] - mx); z += s[j] }
      for j in 0...i {
        var p = s[j] / z
        if fp16 { p = Float(Float16(p)) }
        probs[r * seq + j] = p
      }
    }
    return probs
  }

  /// The score gradient of attentionBackward given dP.
  static func softmaxCausalBackward(_ probs: [Float], _ dp: [Float], rows: Int, seq: Int, scale: Float) -> [Float] {
    var ds = [Float](repeating: 0, count: rows * seq)
    for r in 0..<rows {
      let i = r % seq
      var dot: Float = 0
      for j in 0...i { dot += dp[r * seq + j] * probs[r * seq + j] }
      for j in 0...i { ds[r * seq + j] = probs[r * seq + j] * (dp[r * seq + j] - dot) * scale }
    }
    return ds
  }

  /// Q·Kᵀ for every (sequence, head) with attentionForward's dot-product loop (all j, as the batched GEMM).
  static func attentionScores(_ qkv: [Float], sequences: Int, seq: Int, heads: Int, d: Int) -> [Float] {
    let dh = d / heads, w = 3 * d
    var s = [Float](repeating: 0, count: sequences * heads * seq * seq)
    for b in 0..<sequences {
      for h in 0..<heads {
        let base = (b * heads + h) * seq * seq
        for i in 0..<seq {
          let qi = (b * seq + i) * w + h * dh
          for j in 0..<seq {
            let kj = (b * seq + j) * w + d + h * dh
            var dot: Float = 0
            for e in 0..<dh { dot += qkv[qi + e] * qkv[kj + e] }
            s[base + i * seq + j] = dot
          }
        }
      }
    }
    return s
  }

  /// P·V for every (sequence, head) with attentionForward's accumulation loop.
  static func attentionValues(_ probs: [Float], _ qkv: [Float], sequences: Int, seq: Int, heads: Int, d: Int) -> [Float] {
    let dh = d / heads, w = 3 * d
    var out = [Float](repeating: 0, count: sequences * seq * d)
    for b in 0..<sequences {
      for h in 0..<heads {
        let base = (b * heads + h) * seq * seq
        for i in 0..<seq {
          let o = (b * seq + i) * d + h * dh
          for j in 0..<seq {
            let p = probs[base + i * seq + j]
            let vj = (b * seq + j) * w + 2 * d + h * dh
            for e in 0..<dh { out[o + e] += p * qkv[vj + e] }
          }
        }
      }
    }
    return out
  }

  // MARK: LayerNorm (Layers.layerNormForward / layerNormBackward)

  static func layerNorm(_ x: [Float], _ g: [Float], _ b: [Float], rows: Int, d: Int, fp16: Bool) -> (y: [Float], xhat: [Float], rstd: [Float]) {
    var y = [Float](repeating: 0, count: rows * d), xhat = y, rstd = [Float](repeating: 0, count: rows)
    for r in 0..<rows {
      var mean: Float = 0
      for j in 0..<d { mean += x[r * d + j] }
      mean /= Float(d)
      var v: Float = 0
      for j in 0..<d { let c = x[r * d + j] - mean; v += c * c }
      v /= Float(d)
      let rs = 1 / (v + 1e-5).squareRoot()
      rstd[r] = rs
      for j in 0..<d {
        let h = (x[r * d + j] - mean) * rs
        xhat[r * d + j] = h
        let o = h * g[j] + b[j]
        y[r * d + j] = fp16 ? Float(Float16(o)) : o
      }
    }
    return (y, xhat, rstd)
  }

  static func layerNormBackward(_ dy: [Float], _ xhat: [Float], _ rstd: [Float], _ g: [Float], rows: Int, d: Int,
                                gg: inout [Float], gb: inout [Float]) -> [Float] {
    var dx = [Float](repeating: 0, count: rows * d)
    for r in 0..<rows {
      var sum: Float = 0, sumXh: Float = 0
      for j in 0..<d {
        let i = r * d + j
        gg[j] += dy[i] * xhat[i]
        gb[j] += dy[i]
        let dxh = dy[i] * g[j]
        sum += dxh
        sumXh += dxh * xhat[i]
      }
      let meanD = sum / Float(d), meanDX = sumXh / Float(d)
      for j in 0..<d {
        let i = r * d + j
        dx[i] = rstd[r] * (dy[i] * g[j] - meanD - xhat[i] * meanDX)
      }
    }
    return dx
  }

  // MARK: cross-entropy (Layers.crossEntropy, libm expf/logf)

  static func crossEntropy(_ logits: [Float], targets: [Int32], weights: [Float], rows: Int, vocab: Int) -> (Float, [Float]) {
    var total: Float = 0
    for wv in weights { total += wv }
    var dl = [Float](repeating: 0, count: rows * vocab)
    guard total > 0 else { return (0, dl) }
    var loss: Float = 0
    for r in 0..<rows where weights[r] != 0 {
      var mx = -Float.infinity
      for v in 0..<vocab { mx = max(mx, logits[r * vocab + v]) }
      var z: Float = 0
      for v in 0..<vocab { z += expf(logits[r * vocab + v] - mx) }
      let logZ = logf(z) + mx, t = Int(targets[r])
      loss += weights[r] * (logZ - logits[r * vocab + t])
      let f = weights[r] / total
      for v in 0..<vocab { dl[r * vocab + v] = f * expf(logits[r * vocab + v] - logZ) }
      dl[r * vocab + t] -= f
    }
    return (loss / total, dl)
  }

  // MARK: AdamW (AdamW.update over one flat tensor)

  static func adamW(_ p: inout [Float], _ m: inout [Float], _ v: inout [Float], _ g: [Float], step s: AdamWStep) {
    for j in 0..<p.count {
      m[j] = s.beta1 * m[j] + (1 - s.beta1) * g[j]
      v[j] = s.beta2 * v[j] + (1 - s.beta2) * g[j] * g[j]
      let mh = m[j] / s.biasCorrection1, vh = v[j] / s.biasCorrection2
      p[j] -= s.learningRate * (mh / (vh.squareRoot() + s.epsilon) + s.weightDecay * p[j])
    }
  }

  // MARK: matrix products (IdealMatmulEngine: transpose copies, then gemmKOrder)

  static func matmul(_ a: [Float], transposedA: Bool, _ b: [Float], transposedB: Bool, m: Int, n: Int, k: Int) -> [Float] {
    let aa = transposedA ? transpose(a, rows: k, cols: m) : a
    let bb = transposedB ? transpose(b, rows: n, cols: k) : b
    var c = [Float](repeating: 0, count: m * n)
    aa.withUnsafeBufferPointer { A in
      bb.withUnsafeBufferPointer { B in
        c.withUnsafeMutableBufferPointer { C in
          for i in 0..<m {
            let crow = C.baseAddress! + i * n
            for p in 0..<k {
              let av = A[i * k + p]
              let brow = B.baseAddress! + p * n
              for j in 0..<n { crow[j] = crow[j] + av * brow[j] }
            }
          }
        }
      }
    }
    return c
  }

  static func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
    var out = x
    for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = x[r * cols + c] } }
    return out
  }
}
