// Gradient checks in FP64: every hand-written backward pass against central finite differences
// of its own forward pass (the oracle is the definition of the derivative).
import FP8
import Testing
@testable import MixedPrecision
import _TestSupport

private func randomArray(_ n: Int, _ rng: inout SplitMix64, scale: Double = 1) -> [Double] {
  (0..<n).map { _ in (Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) * scale }
}

/// Central difference of f with respect to x[i].
private func numeric(_ x: [Double], _ i: Int, h: Double = 1e-6, _ f: ([Double]) -> Double) -> Double {
  var p = x, m = x
  p[i] += h; m[i] -= h
  return (f(p) - f(m)) / (2 * h)
}

private func expectClose(_ analytic: [Double], _ x: [Double], tol: Double = 1e-6, _ f: ([Double]) -> Double, _ what: String) {
  var worst = 0.0
  for i in x.indices {
    let n = numeric(x, i, f)
    let err = abs(n - analytic[i]) / max(1e-3, abs(n) + abs(analytic[i]))
    worst = max(worst, err)
  }
  #expect(worst < tol, "\(what): worst relative error \(worst)")
}

private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

private func plainHookFn() -> MatmulHook<Double> { return { (_, _, a, b, m, n, k) throws(TrainingError) in plainMatmul(a, b, m: m, n: n, k: k) } }

@Suite struct GradientCheckTests {
  @Test func linear() throws {
    var rng = SplitMix64(seed: 1)
    let rows = 3, inF = 5, outF = 4
    let x = randomArray(rows * inF, &rng), w = randomArray(outF * inF, &rng), b = randomArray(outF, &rng)
    let r = randomArray(rows * outF, &rng)
    func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
      dot(r, try! Layers.linearForward(x, w, b, rows: rows, inF: inF, outF: outF, linear: 0, hook: plainHookFn()))
    }
    var gw = [Double](repeating: 0, count: w.count), gb = [Double](repeating: 0, count: b.count)
    let dx = try Layers.linearBackward(r, x, w, rows: rows, inF: inF, outF: outF, linear: 0, hook: plainHookFn(), gw: &gw, gb: &gb)
    expectClose(dx, x, { loss($0, w, b) }, "linear dx")
    expectClose(gw, w, { loss(x, $0, b) }, "linear dW")
    expectClose(gb, b, { loss(x, w, $0) }, "linear db")
  }

  @Test func layerNorm() {
    var rng = SplitMix64(seed: 2)
    let rows = 3, d = 6
    let x = randomArray(rows * d, &rng, scale: 2), g = randomArray(d, &rng), b = randomArray(d, &rng)
    let r = randomArray(rows * d, &rng)
    func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
      dot(r, Layers.layerNormForward(x, g, b, rows: rows, d: d, fp16: false).0)
    }
    let (_, cache) = Layers.layerNormForward(x, g, b, rows: rows, d: d, fp16: false)
    var gg = [Double](repeating: 0, count: d), gb = [Double](repeating: 0, count: d)
    let dx = Layers.layerNormBackward(r, x, cache, g, rows: rows, d: d, gg: &gg, gb: &gb)
    expectClose(dx, x, { loss($0, g, b) }, "layernorm dx")
    expectClose(gg, g, { loss(x, $0, b) }, "layernorm dg")
    expectClose(gb, b, { loss(x, g, $0) }, "layernorm db")
  }

  @Test func gelu() {
    var rng = SplitMix64(seed: 3)
    let x = randomArray(20, &rng, scale: 4), r = randomArray(20, &rng)
    let dx = Layers.geluBackward(r, x)
    expectClose(dx, x, { dot(r, Layers.geluForward($0)) }, "gelu dx")
  }

  @Test func causalSelfAttention() {
    var rng = SplitMix64(seed: 4)
    let batch = 2, seq = 4, heads = 2, d = 6
    let qkv = randomArray(batch * seq * 3 * d, &rng), r = randomArray(batch * seq * d, &rng)
    let (_, probs) = Layers.attentionForward(qkv, batch: batch, seq: seq, heads: heads, d: d, fp16: false)
    let dq = Layers.attentionBackward(r, qkv, probs, batch: batch, seq: seq, heads: heads, d: d)
    expectClose(dq, qkv, { dot(r, Layers.attentionForward($0, batch: batch, seq: seq, heads: heads, d: d, fp16: false).0) }, "attention dqkv")
    // Causality: the output at position 0 does not depend on later positions.
    var q2 = qkv
    for j in (3 * d)..<(seq * 3 * d) { q2[j] += 0.5 }
    let o1 = Layers.attentionForward(qkv, batch: batch, seq: seq, heads: heads, d: d, fp16: false).0
    let o2 = Layers.attentionForward(q2, batch: batch, seq: seq, heads: heads, d: d, fp16: false).0
    #expect(Array(o1[0..<d]) == Array(o2[0..<d]))
  }

  @Test func softmaxCrossEntropy() {
    var rng = SplitMix64(seed: 5)
    let rows = 4, vocab = 7
    let logits = randomArray(rows * vocab, &rng, scale: 3)
    let targets = [1, 6, 0, 3], weights: [Double] = [1, 0, 1, 1]
    let (loss, dl) = Layers.crossEntropy(logits, targets: targets, weights: weights, rows: rows, vocab: vocab)
    expectClose(dl, logits, { Layers.crossEntropy($0, targets: targets, weights: weights, rows: rows, vocab: vocab).0 }, "cross-entropy dlogits")
    // Against the definition: mean over weighted rows of log Σ exp − logit[target].
    var ref = 0.0
    for r in [0, 2, 3] {
      let z = (0..<vocab).reduce(0.0) { $0 + Foundation.exp(logits[r * vocab + $1]) }
      ref += Foundation.log(z) - logits[r * vocab + targets[r]]
    }
    #expect(abs(loss - ref / 3) < 1e-12)
  }

  /// The whole transformer (embedding, blocks, head, loss): every parameter of a tiny model.
  @Test func transformerEndToEnd() throws {
    let cfg = TransformerConfig(vocab: 5, maxSeq: 4, d: 8, heads: 2, layers: 2, ffnMultiplier: 2)
    var trng = TrainRNG(seed: 9)
    var model = Transformer<Double>(config: cfg, rng: &trng)
    // Larger weights than the initialisation, so that every path carries signal.
    var rng = SplitMix64(seed: 6)
    model.params = model.params.map { p in p.map { $0 + (Double(rng.next() >> 11) * 0x1p-53 - 0.5) * 0.6 } }
    let batch = Batch(tokens: [0, 3, 1, 4, 2, 2, 0, 1], targets: [3, 1, 4, 0, 2, 0, 1, 3], weights: [1, 1, 0, 1, 1, 1, 1, 0], batch: 2, seq: 4)
    let (_, grads) = try model.lossAndGradients(batch, hook: plainHookFn())
    let names = cfg.parameterShapes.map(\.name)
    for (pi, p) in model.params.enumerated() {
      func f(_ q: [Double]) -> Double {
        var m = model
        m.params[pi] = q
        return Double(try! m.lossAndGradients(batch, hook: plainHookFn()).loss)
      }
      // Every element for small tensors, a fixed sample for large ones.
      let idx = p.count <= 24 ? Array(p.indices) : stride(from: 0, to: p.count, by: p.count / 24 + 1).map { $0 }
      var worst = 0.0
      for i in idx {
        let n = numeric(p, i, f)
        worst = max(worst, abs(n - grads[pi][i]) / max(1e-4, abs(n) + abs(grads[pi][i])))
      }
      #expect(worst < 1e-5, "\(names[pi]): worst relative error \(worst)")
    }
  }
}

import Foundation
