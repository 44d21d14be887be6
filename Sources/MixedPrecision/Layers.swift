// Layers with hand-written backward passes, generic over the scalar type. Each forward returns
// what its backward needs; the backward returns the gradient of the input and accumulates the
// gradients of the parameters. Matrix products of the linear layers go through a `MatmulHook`,
// so that the training run can quantise them and send them to a `MatmulEngine`.

import FP8

/// Which product of a linear layer y = x Wᵀ + b is being computed.
package enum GemmRole: String, Sendable, CaseIterable {
  /// y = x · Wᵀ (A = x: N × in, B = Wᵀ: in × out).
  case forward
  /// dx = dy · W (A = dy: N × out, B = W: out × in).
  case gradInput
  /// dW = dyᵀ · x (A = dyᵀ: out × N, B = x: N × in).
  case gradWeight
}

/// A matrix handed to a hook: row-major values of the logical matrix, or of its transpose.
package struct MatrixRef<T: TrainScalar> {
  package var values: [T]
  package var transposed: Bool
}

/// Computes A (m × k) · B (k × n) for linear layer `linear` in role `role`.
package typealias MatmulHook<T: TrainScalar> =
  (_ linear: Int, _ role: GemmRole, _ a: MatrixRef<T>, _ b: MatrixRef<T>, _ m: Int, _ n: Int, _ k: Int) throws(TrainingError) -> [T]

/// The plain product in T, accumulated in k order (the FP64 twin used by gradient checks).
func plainMatmul<T: TrainScalar>(_ a: MatrixRef<T>, _ b: MatrixRef<T>, m: Int, n: Int, k: Int) -> [T] {
  var aa = a.transposed ? transpose(a.values, rows: k, cols: m) : a.values
  var bb = b.transposed ? transpose(b.values, rows: n, cols: k) : b.values
  var c = [T](repeating: 0, count: m * n)
  gemmKOrder(&aa, &bb, &c, m: m, n: n, k: k)
  return c
}

enum Layers {
  // MARK: linear y = x Wᵀ + b

  /// x: rows × inF, w: outF × inF, b: outF. Returns rows × outF.
  static func linearForward<T: TrainScalar>(
    _ x: [T], _ w: [T], _ b: [T], rows: Int, inF: Int, outF: Int, linear: Int, hook: MatmulHook<T>
  ) throws(TrainingError) -> [T] {
    var y = try hook(linear, .forward, MatrixRef(values: x, transposed: false), MatrixRef(values: w, transposed: true), rows, outF, inF)
    y.withUnsafeMutableBufferPointer { Y in
      for r in 0..<rows { for j in 0..<outF { Y[r * outF + j] += b[j] } }
    }
    return y
  }

  /// Returns dx; adds dW and db into gw, gb.
  static func linearBackward<T: TrainScalar>(
    _ dy: [T], _ x: [T], _ w: [T], rows: Int, inF: Int, outF: Int, linear: Int, hook: MatmulHook<T>,
    gw: inout [T], gb: inout [T]
  ) throws(TrainingError) -> [T] {
    precondition(gw.count == outF * inF && gb.count == outF)
    let dx = try hook(linear, .gradInput, MatrixRef(values: dy, transposed: false), MatrixRef(values: w, transposed: false), rows, inF, outF)
    let dw = try hook(linear, .gradWeight, MatrixRef(values: dy, transposed: true), MatrixRef(values: x, transposed: false), outF, inF, rows)
    for i in 0..<dw.count { gw[i] += dw[i] }
    for r in 0..<rows { for j in 0..<outF { gb[j] += dy[r * outF + j] } }
    return dx
  }

  // MARK: LayerNorm

  /// What the backward pass needs beside the input x: each row's mean and 1/sqrt(var + eps).
  struct LayerNormCache<T: TrainScalar> { var mean: [T]; var rstd: [T] }

  /// y = (x − mean) / sqrt(var + eps) · g + b over the last dimension d. With `fp16`, the output
  /// is rounded to FP16 (the statistics are computed in T).
  static func layerNormForward<T: TrainScalar>(_ x: [T], _ g: [T], _ b: [T], rows: Int, d: Int, eps: T = 1e-5, fp16: Bool) -> ([T], LayerNormCache<T>) {
    var y = [T](repeating: 0, count: rows * d)
    var means = [T](repeating: 0, count: rows)
    var rstd = [T](repeating: 0, count: rows)
    for r in 0..<rows {
      var mean: T = 0
      for j in 0..<d { mean += x[r * d + j] }
      mean /= T(d)
      var v: T = 0
      for j in 0..<d { let c = x[r * d + j] - mean; v += c * c }
      v /= T(d)
      let rs = 1 / (v + eps).squareRoot()
      means[r] = mean
      rstd[r] = rs
      for j in 0..<d {
        let o = (x[r * d + j] - mean) * rs * g[j] + b[j]
        y[r * d + j] = fp16 ? roundFP16(o) : o
      }
    }
    return (y, LayerNormCache(mean: means, rstd: rstd))
  }

  /// dx of ``layerNormForward(_:_:_:rows:d:eps:fp16:)`` for the input `x` it was given (x̂
  /// recomputed as the forward pass computed it); adds dg and db into gg, gb.
  static func layerNormBackward<T: TrainScalar>(_ dy: [T], _ x: [T], _ cache: LayerNormCache<T>, _ g: [T], rows: Int, d: Int,
                                                       gg: inout [T], gb: inout [T]) -> [T] {
    precondition(gg.count == d && gb.count == d)
    var dx = [T](repeating: 0, count: rows * d)
    for r in 0..<rows {
      var sum: T = 0, sumXh: T = 0
      for j in 0..<d {
        let i = r * d + j
        let xh = (x[i] - cache.mean[r]) * cache.rstd[r]
        gg[j] += dy[i] * xh
        gb[j] += dy[i]
        let dxh = dy[i] * g[j]
        sum += dxh
        sumXh += dxh * xh
      }
      let meanD = sum / T(d), meanDX = sumXh / T(d)
      for j in 0..<d {
        let i = r * d + j
        let xh = (x[i] - cache.mean[r]) * cache.rstd[r]
        dx[i] = cache.rstd[r] * (dy[i] * g[j] - meanD - xh * meanDX)
      }
    }
    return dx
  }

  // MARK: GELU (tanh approximation, as GPT-2)

  @inline(__always) static func geluParts<T: TrainScalar>(_ x: T) -> (T, T) {
    let c = T(0.7978845608028654)  // sqrt(2/pi)
    let u = c * (x + T(0.044715) * x * x * x)
    let t = T.tanh(u)
    let y = T(0.5) * x * (1 + t)
    let du = c * (1 + 3 * T(0.044715) * x * x)
    let dy = T(0.5) * (1 + t) + T(0.5) * x * (1 - t * t) * du
    return (y, dy)
  }

  static func geluForward<T: TrainScalar>(_ x: [T]) -> [T] { x.map { geluParts($0).0 } }

  static func geluBackward<T: TrainScalar>(_ dy: [T], _ x: [T]) -> [T] {
    var dx = dy
    for i in 0..<x.count { dx[i] = dy[i] * geluParts(x[i]).1 }
    return dx
  }

  // MARK: causal multi-head self-attention

  /// qkv: (batch·seq) × 3d rows laid out [q | k | v], head h at columns h·dh ..< (h+1)·dh of each.
  /// Returns the (batch·seq) × d output and the softmax probabilities (batch × heads × seq × seq).
  /// With `fp16`, the probabilities are rounded to FP16.
  static func attentionForward<T: TrainScalar>(_ qkv: [T], batch: Int, seq: Int, heads: Int, d: Int, fp16: Bool) -> ([T], [T]) {
    let dh = d / heads
    let scale = 1 / T(dh).squareRoot()
    var out = [T](repeating: 0, count: batch * seq * d)
    var probs = [T](repeating: 0, count: batch * heads * seq * seq)
    let w = 3 * d
    for b in 0..<batch {
      for h in 0..<heads {
        let pBase = ((b * heads) + h) * seq * seq
        for i in 0..<seq {
          let qi = (b * seq + i) * w + h * dh
          var mx = -T.infinity
          var s = [T](repeating: 0, count: i + 1)
          for j in 0...i {
            let kj = (b * seq + j) * w + d + h * dh
            var dot: T = 0
            for e in 0..<dh { dot += qkv[qi + e] * qkv[kj + e] }
            s[j] = dot * scale
            if s[j] > mx { mx = s[j] }
          }
          var z: T = 0
          for j in 0...i { s[j] = T.exp(s[j] - mx); z += s[j] }
          let o = (b * seq + i) * d + h * dh
          for j in 0...i {
            var p = s[j] / z
            if fp16 { p = roundFP16(p) }
            probs[pBase + i * seq + j] = p
            let vj = (b * seq + j) * w + 2 * d + h * dh
            for e in 0..<dh { out[o + e] += p * qkv[vj + e] }
          }
        }
      }
    }
    return (out, probs)
  }

  static func attentionBackward<T: TrainScalar>(_ dout: [T], _ qkv: [T], _ probs: [T], batch: Int, seq: Int, heads: Int, d: Int) -> [T] {
    let dh = d / heads
    let scale = 1 / T(dh).squareRoot()
    let w = 3 * d
    var dqkv = [T](repeating: 0, count: qkv.count)
    var dp = [T](repeating: 0, count: seq)
    for b in 0..<batch {
      for h in 0..<heads {
        let pBase = ((b * heads) + h) * seq * seq
        for i in 0..<seq {
          let o = (b * seq + i) * d + h * dh
          var dot: T = 0
          for j in 0...i {
            let p = probs[pBase + i * seq + j]
            let vj = (b * seq + j) * w + 2 * d + h * dh
            var g: T = 0
            for e in 0..<dh {
              g += dout[o + e] * qkv[vj + e]
              dqkv[vj + e] += p * dout[o + e]
            }
            dp[j] = g
            dot += g * p
          }
          let qi = (b * seq + i) * w + h * dh
          for j in 0...i {
            let ds = probs[pBase + i * seq + j] * (dp[j] - dot) * scale
            let kj = (b * seq + j) * w + d + h * dh
            for e in 0..<dh {
              dqkv[qi + e] += ds * qkv[kj + e]
              dqkv[kj + e] += ds * qkv[qi + e]
            }
          }
        }
      }
    }
    return dqkv
  }

  // MARK: softmax cross-entropy

  /// Loss = Σᵢ wᵢ · (−log softmax(logitsᵢ)[targetᵢ]) / Σᵢ wᵢ. Returns the loss and d loss / d logits.
  static func crossEntropy<T: TrainScalar>(_ logits: [T], targets: [Int], weights: [T], rows: Int, vocab: Int) -> (T, [T]) {
    var total: T = 0
    for wv in weights { total += wv }
    var dl = [T](repeating: 0, count: rows * vocab)
    guard total > 0 else { return (0, dl) }
    var loss: T = 0
    for r in 0..<rows where weights[r] != 0 {
      var mx = -T.infinity
      for v in 0..<vocab { mx = Swift.max(mx, logits[r * vocab + v]) }
      var z: T = 0
      for v in 0..<vocab { z += T.exp(logits[r * vocab + v] - mx) }
      let logZ = T.log(z) + mx
      loss += weights[r] * (logZ - logits[r * vocab + targets[r]])
      let f = weights[r] / total
      for v in 0..<vocab { dl[r * vocab + v] = f * T.exp(logits[r * vocab + v] - logZ) }
      dl[r * vocab + targets[r]] -= f
    }
    return (loss / total, dl)
  }
}
