import FP8

/// Shape of the decoder-only transformer.
public struct TransformerConfig: Sendable, Hashable, Codable {
  public var vocab: Int
  public var maxSeq: Int
  public var d: Int
  public var heads: Int
  public var layers: Int
  public var ffnMultiplier: Int
  /// Standard deviation of the initial weights and embeddings.
  public var initStd: Double = 0.1

  public init(vocab: Int, maxSeq: Int, d: Int = 64, heads: Int = 4, layers: Int = 2, ffnMultiplier: Int = 4) {
    self.vocab = vocab; self.maxSeq = maxSeq; self.d = d; self.heads = heads; self.layers = layers
    self.ffnMultiplier = ffnMultiplier
  }

  /// Parameter names and sizes, in the order of ``Transformer/params``.
  package var parameterShapes: [(name: String, count: Int)] {
    var s: [(String, Int)] = [("tok_emb", vocab * d), ("pos_emb", maxSeq * d)]
    let f = ffnMultiplier * d
    for i in 0..<layers {
      let p = "block\(i)."
      s += [(p + "ln1.g", d), (p + "ln1.b", d), (p + "qkv.w", 3 * d * d), (p + "qkv.b", 3 * d),
            (p + "proj.w", d * d), (p + "proj.b", d), (p + "ln2.g", d), (p + "ln2.b", d),
            (p + "fc1.w", f * d), (p + "fc1.b", f), (p + "fc2.w", d * f), (p + "fc2.b", d)]
    }
    s += [("lnf.g", d), ("lnf.b", d), ("head.w", vocab * d), ("head.b", vocab)]
    return s
  }

  /// Names of the linear layers (the FP8 matrix products), indexed as the hook's `linear`.
  package var linearNames: [String] {
    var n: [String] = []
    for i in 0..<layers { n += ["block\(i).qkv", "block\(i).proj", "block\(i).fc1", "block\(i).fc2"] }
    return n + ["head"]
  }

  /// Index of the weight tensor (in parameterShapes) of linear layer `l`.
  package func weightIndex(ofLinear l: Int) -> Int {
    if l == 4 * layers { return 2 + 12 * layers + 2 }
    let block = l / 4, which = l % 4
    return 2 + 12 * block + [2, 4, 8, 10][which]
  }
}

/// A mini-batch: `batch` sequences of `seq` token ids, the next-token targets, and a weight per
/// position (0 where the loss ignores the position).
public struct Batch: Sendable {
  public var tokens: [Int]
  public var targets: [Int]
  public var weights: [Float]
  public var batch: Int
  public var seq: Int
  public init(tokens: [Int], targets: [Int], weights: [Float], batch: Int, seq: Int) {
    self.tokens = tokens; self.targets = targets; self.weights = weights; self.batch = batch; self.seq = seq
  }
}

/// Decoder-only transformer: token + position embedding, pre-norm blocks (LayerNorm → causal
/// multi-head self-attention → residual add; LayerNorm → GELU MLP → residual add), final
/// LayerNorm, untied output head, softmax cross-entropy. With `fp16Schedule`, LayerNorm outputs,
/// softmax probabilities and residual sums are rounded to FP16 (the precision schedule); their
/// backward passes treat the rounding as the identity.
public struct Transformer<T: TrainScalar>: Sendable {
  public var config: TransformerConfig
  public var params: [[T]]
  package var fp16Schedule: Bool = false
  /// SIMD path and threads of the C kernels (Float models).
  package var kernels = KernelContext()

  public init(config: TransformerConfig, params: [[T]]) {
    self.config = config; self.params = params
  }

  /// Initialisation (GPT-2 style, wider: std 0.1 for this small model): N(0, initStd) weights and embeddings, residual projections scaled by
  /// 1/sqrt(2·layers), zero biases, unit LayerNorm gains.
  init(config: TransformerConfig, rng: inout TrainRNG) {
    self.config = config
    params = []
    let resid = config.initStd / Double(2 * config.layers).squareRoot()
    for (name, count) in config.parameterShapes {
      if name.hasSuffix(".g") {
        params.append([T](repeating: 1, count: count))
      } else if name.hasSuffix(".b") {
        params.append([T](repeating: 0, count: count))
      } else {
        let std = (name.hasSuffix("proj.w") || name.hasSuffix("fc2.w")) ? resid : config.initStd
        params.append((0..<count).map { _ in T(rng.normal() * std) })
      }
    }
  }

  struct BlockCache {
    var hIn: [T]; var ln1: [T]; var ln1c: Layers.LayerNormCache<T>; var qkv: [T]; var probs: [T]; var att: [T]
    var h2: [T]; var ln2: [T]; var ln2c: Layers.LayerNormCache<T>; var pre: [T]; var act: [T]
  }

  struct Cache { var blocks: [BlockCache]; var hFinal: [T]; var lnf: [T]; var lnfc: Layers.LayerNormCache<T> }

  func forward(_ tokens: [Int], batch: Int, seq: Int, hook: MatmulHook<T>) throws(TrainingError) -> ([T], Cache) {
    let c = config, d = c.d, n = batch * seq, f = c.ffnMultiplier * d
    guard seq <= c.maxSeq, tokens.count == n else { throw .invalidArgument("batch shape \(batch)×\(seq) vs \(tokens.count) tokens") }
    if let t = tokens.first(where: { $0 < 0 || $0 >= c.vocab }) { throw .invalidArgument("token id \(t) outside vocabulary") }
    var h = [T](repeating: 0, count: n * d)
    h.withUnsafeMutableBufferPointer { h in
      params[0].withUnsafeBufferPointer { tok in
        params[1].withUnsafeBufferPointer { pos in
          for r in 0..<n {
            let t = tokens[r] * d, p = (r % seq) * d
            for j in 0..<d { h[r * d + j] = tok[t + j] + pos[p + j] }
          }
        }
      }
    }
    var blocks: [BlockCache] = []
    for i in 0..<c.layers {
      let p = 2 + 12 * i, l = 4 * i
      let (ln1, ln1c) = try layerNorm(h, params[p], params[p + 1], rows: n)
      let qkv = try Layers.linearForward(ln1, params[p + 2], params[p + 3], rows: n, inF: d, outF: 3 * d, linear: l, hook: hook)
      let (att, probs) = try attentionForward(qkv, batch: batch, seq: seq)
      let o = try Layers.linearForward(att, params[p + 4], params[p + 5], rows: n, inF: d, outF: d, linear: l + 1, hook: hook)
      let h2 = try residual(h, o)
      let (ln2, ln2c) = try layerNorm(h2, params[p + 6], params[p + 7], rows: n)
      let pre = try Layers.linearForward(ln2, params[p + 8], params[p + 9], rows: n, inF: d, outF: f, linear: l + 2, hook: hook)
      let act = try gelu(pre)
      let o2 = try Layers.linearForward(act, params[p + 10], params[p + 11], rows: n, inF: f, outF: d, linear: l + 3, hook: hook)
      blocks.append(BlockCache(hIn: h, ln1: ln1, ln1c: ln1c, qkv: qkv, probs: probs, att: att, h2: h2, ln2: ln2, ln2c: ln2c, pre: pre, act: act))
      h = try residual(h2, o2)
    }
    let q = 2 + 12 * c.layers
    let (lnf, lnfc) = try layerNorm(h, params[q], params[q + 1], rows: n)
    let logits = try Layers.linearForward(lnf, params[q + 2], params[q + 3], rows: n, inF: d, outF: c.vocab, linear: 4 * c.layers, hook: hook)
    return (logits, Cache(blocks: blocks, hFinal: h, lnf: lnf, lnfc: lnfc))
  }

  /// The logits (batch·seq × vocab) of a forward pass.
  package func logits(_ tokens: [Int], batch: Int, seq: Int, hook: MatmulHook<T>) throws(TrainingError) -> [T] {
    try forward(tokens, batch: batch, seq: seq, hook: hook).0
  }

  /// dx of linear layer `linear` (weights at parameter index `w`, bias at w + 1) for the output
  /// gradient dy and input x; stores dW into g[w] and adds db into g[w + 1].
  func linearBackward(_ dy: [T], _ x: [T], w: Int, rows: Int, inF: Int, outF: Int, linear: Int, hook: MatmulHook<T>,
                      into g: inout [[T]]) throws(TrainingError) -> [T] {
    let dx = try hook(linear, .gradInput, MatrixRef(values: dy, transposed: false), MatrixRef(values: params[w], transposed: false), rows, inF, outF)
    g[w] = try hook(linear, .gradWeight, MatrixRef(values: dy, transposed: true), MatrixRef(values: x, transposed: false), outF, inF, rows)
    try biasGradient(dy, rows: rows, into: &g[w + 1])
    return dx
  }

  /// Mean weighted cross-entropy of the batch and the gradients of `lossScale ×` the loss with
  /// respect to every parameter (in the order of ``params``).
  func lossAndGradients(_ b: Batch, lossScale: T = 1, hook: MatmulHook<T>) throws(TrainingError) -> (loss: T, grads: [[T]]) {
    let c = config, d = c.d, n = b.batch * b.seq, f = c.ffnMultiplier * d
    let (logits, cache) = try forward(b.tokens, batch: b.batch, seq: b.seq, hook: hook)
    let (loss, dl) = try crossEntropy(logits, b, scale: lossScale)
    // Matrices are stored whole by their weight-gradient product; the rest accumulate from zero.
    var g = zip(c.parameterShapes, params).map { $0.0.name.hasSuffix(".w") ? [] : [T](repeating: 0, count: $0.1.count) }
    let q = 2 + 12 * c.layers
    let dlnf = try linearBackward(dl, cache.lnf, w: q + 2, rows: n, inF: d, outF: c.vocab, linear: 4 * c.layers, hook: hook, into: &g)
    var dh = try layerNormBackward(dlnf, cache.hFinal, cache.lnfc, gamma: q, rows: n, into: &g)
    for i in stride(from: c.layers - 1, through: 0, by: -1) {
      let p = 2 + 12 * i, l = 4 * i, bc = cache.blocks[i]
      // h = h2 + fc2(gelu(fc1(ln2(h2))))
      let dact = try linearBackward(dh, bc.act, w: p + 10, rows: n, inF: f, outF: d, linear: l + 3, hook: hook, into: &g)
      let dpre = try geluBackward(dact, bc.pre)
      let dln2 = try linearBackward(dpre, bc.ln2, w: p + 8, rows: n, inF: d, outF: f, linear: l + 2, hook: hook, into: &g)
      try accumulate(&dh, try layerNormBackward(dln2, bc.h2, bc.ln2c, gamma: p + 6, rows: n, into: &g))
      // h2 = hIn + proj(attn(qkv(ln1(hIn))))
      let datt = try linearBackward(dh, bc.att, w: p + 4, rows: n, inF: d, outF: d, linear: l + 1, hook: hook, into: &g)
      let dqkv = try attentionBackward(datt, bc.qkv, bc.probs, batch: b.batch, seq: b.seq)
      let dln1 = try linearBackward(dqkv, bc.ln1, w: p + 2, rows: n, inF: d, outF: 3 * d, linear: l, hook: hook, into: &g)
      try accumulate(&dh, try layerNormBackward(dln1, bc.hIn, bc.ln1c, gamma: p, rows: n, into: &g))
    }
    // Token and position embeddings: rows added in token order.
    var gTok = take(&g[0]), gPos = take(&g[1])
    gTok.withUnsafeMutableBufferPointer { tok in
      gPos.withUnsafeMutableBufferPointer { pos in
        dh.withUnsafeBufferPointer { dh in
          for r in 0..<n {
            let t = b.tokens[r] * d, p = (r % b.seq) * d
            for j in 0..<d { tok[t + j] += dh[r * d + j]; pos[p + j] += dh[r * d + j] }
          }
        }
      }
    }
    g[0] = gTok; g[1] = gPos
    return (loss, g)
  }
}

/// SplitMix64 with a Gaussian draw: the run's only source of randomness (its state is saved in
/// checkpoints).
public struct TrainRNG: RandomNumberGenerator, Sendable {
  var generator: SplitMix64
  public var state: UInt64 { generator.state }
  public init(seed: UInt64) { generator = SplitMix64(seed: seed) }
  public mutating func next() -> UInt64 { generator.next() }
  /// Uniform in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
  /// Standard normal (Box–Muller, one value per call).
  public mutating func normal() -> Double {
    let u1 = max(uniform(), 0x1p-60), u2 = uniform()
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }
  public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
