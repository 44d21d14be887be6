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

  @inline(__always) func rs(_ x: T) -> T { fp16Schedule ? roundFP16(x) : x }

  struct BlockCache {
    var hIn: [T]; var ln1: [T]; var ln1c: Layers.LayerNormCache<T>; var qkv: [T]; var probs: [T]; var att: [T]
    var h2: [T]; var ln2: [T]; var ln2c: Layers.LayerNormCache<T>; var pre: [T]; var act: [T]
  }

  struct Cache { var blocks: [BlockCache]; var hFinal: [T]; var lnf: [T]; var lnfc: Layers.LayerNormCache<T> }

  func forward(_ tokens: [Int], batch: Int, seq: Int, hook: MatmulHook<T>) throws(TrainingError) -> ([T], Cache) {
    let c = config, d = c.d, n = batch * seq, f = c.ffnMultiplier * d
    guard seq <= c.maxSeq, tokens.count == n else { throw .invalidArgument("batch shape \(batch)×\(seq) vs \(tokens.count) tokens") }
    var h = [T](repeating: 0, count: n * d)
    for r in 0..<n {
      let t = tokens[r], pos = r % seq
      guard t >= 0, t < c.vocab else { throw .invalidArgument("token id \(t) outside vocabulary") }
      for j in 0..<d { h[r * d + j] = params[0][t * d + j] + params[1][pos * d + j] }
    }
    var blocks: [BlockCache] = []
    for i in 0..<c.layers {
      let p = 2 + 12 * i, l = 4 * i
      let (ln1, ln1c) = Layers.layerNormForward(h, params[p], params[p + 1], rows: n, d: d, fp16: fp16Schedule)
      let qkv = try Layers.linearForward(ln1, params[p + 2], params[p + 3], rows: n, inF: d, outF: 3 * d, linear: l, hook: hook)
      let (att, probs) = Layers.attentionForward(qkv, batch: batch, seq: seq, heads: c.heads, d: d, fp16: fp16Schedule)
      let o = try Layers.linearForward(att, params[p + 4], params[p + 5], rows: n, inF: d, outF: d, linear: l + 1, hook: hook)
      var h2 = h
      for j in 0..<h2.count { h2[j] = rs(h[j] + o[j]) }
      let (ln2, ln2c) = Layers.layerNormForward(h2, params[p + 6], params[p + 7], rows: n, d: d, fp16: fp16Schedule)
      let pre = try Layers.linearForward(ln2, params[p + 8], params[p + 9], rows: n, inF: d, outF: f, linear: l + 2, hook: hook)
      let act = Layers.geluForward(pre)
      let o2 = try Layers.linearForward(act, params[p + 10], params[p + 11], rows: n, inF: f, outF: d, linear: l + 3, hook: hook)
      blocks.append(BlockCache(hIn: h, ln1: ln1, ln1c: ln1c, qkv: qkv, probs: probs, att: att, h2: h2, ln2: ln2, ln2c: ln2c, pre: pre, act: act))
      h = h2
      for j in 0..<h.count { h[j] = rs(h2[j] + o2[j]) }
    }
    let q = 2 + 12 * c.layers
    let (lnf, lnfc) = Layers.layerNormForward(h, params[q], params[q + 1], rows: n, d: d, fp16: fp16Schedule)
    let logits = try Layers.linearForward(lnf, params[q + 2], params[q + 3], rows: n, inF: d, outF: c.vocab, linear: 4 * c.layers, hook: hook)
    return (logits, Cache(blocks: blocks, hFinal: h, lnf: lnf, lnfc: lnfc))
  }

  /// The logits (batch·seq × vocab) of a forward pass.
  package func logits(_ tokens: [Int], batch: Int, seq: Int, hook: MatmulHook<T>) throws(TrainingError) -> [T] {
    try forward(tokens, batch: batch, seq: seq, hook: hook).0
  }

  /// Mean weighted cross-entropy of the batch and the gradients of `lossScale ×` the loss with
  /// respect to every parameter (in the order of ``params``).
  func lossAndGradients(_ b: Batch, lossScale: T = 1, hook: MatmulHook<T>) throws(TrainingError) -> (loss: T, grads: [[T]]) {
    let c = config, d = c.d, n = b.batch * b.seq, f = c.ffnMultiplier * d
    let (logits, cache) = try forward(b.tokens, batch: b.batch, seq: b.seq, hook: hook)
    let (loss, dl0) = Layers.crossEntropy(logits, targets: b.targets, weights: b.weights.map { T($0) }, rows: n, vocab: c.vocab)
    var g = params.map { [T](repeating: 0, count: $0.count) }
    let dl = lossScale == 1 ? dl0 : dl0.map { $0 * lossScale }
    let q = 2 + 12 * c.layers
    var gA1 = take(&g, q + 2), gB1 = take(&g, q + 3)
    let dlnf = try Layers.linearBackward(dl, cache.lnf, params[q + 2], rows: n, inF: d, outF: c.vocab, linear: 4 * c.layers, hook: hook, gw: &gA1, gb: &gB1)
    g[q + 2] = gA1; g[q + 3] = gB1
    var gA2 = take(&g, q), gB2 = take(&g, q + 1)
    var dh = Layers.layerNormBackward(dlnf, cache.lnfc, params[q], rows: n, d: d, gg: &gA2, gb: &gB2)
    g[q] = gA2; g[q + 1] = gB2
    for i in stride(from: c.layers - 1, through: 0, by: -1) {
      let p = 2 + 12 * i, l = 4 * i, bc = cache.blocks[i]
      // h = h2 + fc2(gelu(fc1(ln2(h2))))
      var gA3 = take(&g, p + 10), gB3 = take(&g, p + 11)
      let dact = try Layers.linearBackward(dh, bc.act, params[p + 10], rows: n, inF: f, outF: d, linear: l + 3, hook: hook, gw: &gA3, gb: &gB3)
      g[p + 10] = gA3; g[p + 11] = gB3
      let dpre = Layers.geluBackward(dact, bc.pre)
      var gA4 = take(&g, p + 8), gB4 = take(&g, p + 9)
      let dln2 = try Layers.linearBackward(dpre, bc.ln2, params[p + 8], rows: n, inF: d, outF: f, linear: l + 2, hook: hook, gw: &gA4, gb: &gB4)
      g[p + 8] = gA4; g[p + 9] = gB4
      var gA5 = take(&g, p + 6), gB5 = take(&g, p + 7)
      let dh2part = Layers.layerNormBackward(dln2, bc.ln2c, params[p + 6], rows: n, d: d, gg: &gA5, gb: &gB5)
      g[p + 6] = gA5; g[p + 7] = gB5
      for j in 0..<dh.count { dh[j] += dh2part[j] }
      // h2 = hIn + proj(attn(qkv(ln1(hIn))))
      var gA6 = take(&g, p + 4), gB6 = take(&g, p + 5)
      let datt = try Layers.linearBackward(dh, bc.att, params[p + 4], rows: n, inF: d, outF: d, linear: l + 1, hook: hook, gw: &gA6, gb: &gB6)
      g[p + 4] = gA6; g[p + 5] = gB6
      let dqkv = Layers.attentionBackward(datt, bc.qkv, bc.probs, batch: b.batch, seq: b.seq, heads: c.heads, d: d)
      var gA7 = take(&g, p + 2), gB7 = take(&g, p + 3)
      let dln1 = try Layers.linearBackward(dqkv, bc.ln1, params[p + 2], rows: n, inF: d, outF: 3 * d, linear: l, hook: hook, gw: &gA7, gb: &gB7)
      g[p + 2] = gA7; g[p + 3] = gB7
      var gA8 = take(&g, p), gB8 = take(&g, p + 1)
      let dhpart = Layers.layerNormBackward(dln1, bc.ln1c, params[p], rows: n, d: d, gg: &gA8, gb: &gB8)
      g[p] = gA8; g[p + 1] = gB8
      for j in 0..<dh.count { dh[j] += dhpart[j] }
    }
    for r in 0..<n {
      let t = b.tokens[r], pos = r % b.seq
      for j in 0..<d {
        g[0][t * d + j] += dh[r * d + j]
        g[1][pos * d + j] += dh[r * d + j]
      }
    }
    return (loss, g)
  }
}

@inline(__always) func take<E>(_ a: inout [[E]], _ i: Int) -> [E] {
  var x: [E] = []
  swap(&x, &a[i])
  return x
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
