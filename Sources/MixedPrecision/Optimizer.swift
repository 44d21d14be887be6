import FP8

/// AdamW on the FP32 master weights (decoupled weight decay on matrices only, not on biases,
/// LayerNorm gains or embeddings). Moments are FP32.
struct AdamW: Sendable, Equatable {
  var m: [[Float]]
  var v: [[Float]]
  /// Updates applied so far (skipped steps do not count), for the bias correction.
  var t: Int = 0
  var decays: [Bool]

  init(shapes: [(name: String, count: Int)]) {
    m = shapes.map { [Float](repeating: 0, count: $0.count) }
    v = m
    decays = shapes.map { $0.name.hasSuffix(".w") }
  }

  /// One step on every tensor with the C kernel (`cfp8_adamw`: m = β1·m + (1−β1)·g,
  /// v = β2·v + ((1−β2)·g)·g, p −= lr·(m̂/(√v̂ + ε) + wd·p), each operation rounded as written).
  mutating func update(_ params: inout [[Float]], _ grads: [[Float]], lr: Float, options o: TrainingOptions,
                       kernels: KernelContext) throws(TrainingError) {
    t += 1
    let bc1 = 1 - pow1(o.beta1, t), bc2 = 1 - pow1(o.beta2, t)
    for i in params.indices {
      let step = AdamWStep(learningRate: lr, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon,
                           weightDecay: decays[i] ? o.weightDecay : 0, biasCorrection1: bc1, biasCorrection2: bc2)
      try FloatKernels.run { () throws(FP8Error) in
        try params[i].withUnsafeMutableBufferPointer { (p) throws(FP8Error) in
          try m[i].withUnsafeMutableBufferPointer { (m) throws(FP8Error) in
            try v[i].withUnsafeMutableBufferPointer { (v) throws(FP8Error) in
              try CKernels.adamW(param: p.baseAddress, m: m.baseAddress, v: v.baseAddress, grad: grads[i], count: p.count, step: step,
                                 isa: kernels.isa.rawValue, threads: Int32(kernels.threads))
            }
          }
        }
      }
    }
  }
}

@inline(__always) func pow1(_ b: Float, _ e: Int) -> Float {
  var r: Float = 1
  for _ in 0..<min(e, 100_000) { r *= b }
  return r
}

/// Dynamic loss scaling: the loss is multiplied by `scale` before the backward pass; a step whose
/// gradients contain Inf or NaN is skipped and the scale halved; after `growthInterval`
/// consecutive good steps the scale doubles (capped at 2^24). Static scaling keeps `scale`.
struct LossScaler: Sendable, Equatable, Codable {
  var dynamic: Bool
  var scale: Float
  var growthInterval: Int
  var goodSteps = 0
  var skippedSteps = 0

  init(dynamic: Bool, initial: Float, growthInterval: Int) {
    self.dynamic = dynamic; self.scale = dynamic ? initial : 1; self.growthInterval = growthInterval
  }

  /// Records a step; returns whether its update is applied.
  mutating func record(finite: Bool) -> Bool {
    guard dynamic else {
      if !finite { skippedSteps += 1 }
      return finite
    }
    if !finite {
      skippedSteps += 1
      goodSteps = 0
      scale = max(scale / 2, 1)
      return false
    }
    goodSteps += 1
    if goodSteps >= growthInterval { goodSteps = 0; scale = min(scale * 2, 0x1p24) }
    return true
  }
}

/// Gradient clipping helpers.
enum Clipping {
  /// Clamps every element to [−limit, limit].
  static func byValue(_ g: inout [[Float]], limit: Float) {
    for i in g.indices { g[i].withUnsafeMutableBufferPointer { t in for j in t.indices { t[j] = min(max(t[j], -limit), limit) } } }
  }

  /// The global L2 norm (accumulated in FP64 in a fixed order).
  static func globalNorm(_ g: [[Float]]) -> Double {
    var s = 0.0
    for t in g { for x in t { s += Double(x) * Double(x) } }
    return s.squareRoot()
  }

  /// Scales the gradients so that their global norm is at most `maxNorm`; returns the norm before.
  @discardableResult
  static func byGlobalNorm(_ g: inout [[Float]], maxNorm: Float) -> Double {
    let n = globalNorm(g)
    if n > Double(maxNorm), n.isFinite {
      let f = Float(Double(maxNorm) / n)
      for i in g.indices { g[i].withUnsafeMutableBufferPointer { t in for j in t.indices { t[j] *= f } } }
    }
    return n
  }
}
