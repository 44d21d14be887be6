// Wrappers over cfp8_nn.h: the element-wise and row kernels of a transformer's layers (GELU,
// softmax, LayerNorm, residual adds, FP16/BF16 rounding, cross-entropy, AdamW). FP32 buffers in and
// out, dense row-major; `round` is the raw value of ElementFormat.f32 (none), .f16 or .bf16. The
// numerics (one reduction order, the same bits on every ISA and thread count) are in cfp8_nn.h.
import CFP8

/// The hyper-parameters of one AdamW step (`cfp8_adamw_step`); the bias corrections are
/// 1 - β^t, computed by the caller.
package struct AdamWStep: Sendable, Equatable {
  package var learningRate: Float
  package var beta1: Float
  package var beta2: Float
  package var epsilon: Float
  package var weightDecay: Float
  package var biasCorrection1: Float
  package var biasCorrection2: Float

  package init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float,
               biasCorrection1: Float, biasCorrection2: Float) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
    self.biasCorrection1 = biasCorrection1
    self.biasCorrection2 = biasCorrection2
  }

  var c: cfp8_adamw_step {
    cfp8_adamw_step(lr: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weight_decay: weightDecay,
                    bias_correction1: biasCorrection1, bias_correction2: biasCorrection2)
  }
}

extension CKernels {
  /// `cfp8_gelu`: y = GELU(x), tanh form.
  package static func gelu(
    _ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, count: Int, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_gelu(x, y, Int64(count), isa, threads), "GELU of \(count) values")
  }

  /// `cfp8_gelu_backward`: dx = dy · GELU'(x).
  package static func geluBackward(
    dy: UnsafePointer<Float>?, x: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>?, count: Int, isa: Int32,
    threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_gelu_backward(dy, x, dx, Int64(count), isa, threads), "GELU backward of \(count) values")
  }

  /// `cfp8_softmax`: row softmax of scale·x, causal over stacked cols × cols blocks when `causal`.
  package static func softmax(
    _ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, rows: Int, cols: Int, scale: Float, causal: Bool,
    round: Int32, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_softmax(x, y, Int64(rows), Int64(cols), scale, causal ? 1 : 0, round, isa, threads),
              "softmax of \(rows)×\(cols)")
  }

  /// `cfp8_softmax_backward`: dx = (p ⊙ (dp - Σ p·dp)) · scale on the live columns.
  package static func softmaxBackward(
    p: UnsafePointer<Float>?, dp: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>?, rows: Int, cols: Int,
    scale: Float, causal: Bool, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_softmax_backward(p, dp, dx, Int64(rows), Int64(cols), scale, causal ? 1 : 0, isa, threads),
              "softmax backward of \(rows)×\(cols)")
  }

  /// `cfp8_layernorm`: y = x̂·γ + β per row of d; mean and rstd (rows each) may be nil.
  package static func layerNorm(
    x: UnsafePointer<Float>?, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, rows: Int, d: Int, eps: Float,
    y: UnsafeMutablePointer<Float>?, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
    round: Int32, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_layernorm(x, gamma, beta, Int64(rows), Int64(d), eps, y, mean, rstd, round, isa, threads),
              "LayerNorm of \(rows)×\(d)")
  }

  /// `cfp8_layernorm_backward`: dx, and dgamma/dbeta accumulated (+=).
  package static func layerNormBackward(
    dy: UnsafePointer<Float>?, x: UnsafePointer<Float>?, mean: UnsafePointer<Float>?, rstd: UnsafePointer<Float>?,
    gamma: UnsafePointer<Float>?, rows: Int, d: Int, dx: UnsafeMutablePointer<Float>?,
    dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(
      cfp8_layernorm_backward(dy, x, mean, rstd, gamma, Int64(rows), Int64(d), dx, dgamma, dbeta, isa, threads),
      "LayerNorm backward of \(rows)×\(d)")
  }

  /// `cfp8_bias_backward`: dbias[j] += Σ_r dy[r][j].
  package static func biasBackward(
    dy: UnsafePointer<Float>?, rows: Int, cols: Int, dbias: UnsafeMutablePointer<Float>?, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_bias_backward(dy, Int64(rows), Int64(cols), dbias, isa, threads), "bias gradient of \(rows)×\(cols)")
  }

  /// `cfp8_add`: y = round(a + b).
  package static func add(
    _ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, count: Int,
    round: Int32, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_add(a, b, y, Int64(count), round, isa, threads), "adding \(count) values")
  }

  /// `cfp8_round_to_format`: x = round(x) in place.
  package static func roundToFormat(
    _ x: UnsafeMutablePointer<Float>?, count: Int, round: Int32, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_round_to_format(x, Int64(count), round, isa, threads), "rounding \(count) values to format \(round)")
  }

  /// `cfp8_cross_entropy`: the weighted mean loss; dlogits (rows × vocab, may be nil) receives its
  /// gradient times gradScale. weights nil means 1 for every row.
  package static func crossEntropy(
    logits: UnsafePointer<Float>?, rows: Int, vocab: Int, targets: UnsafePointer<Int32>?,
    weights: UnsafePointer<Float>?, gradScale: Float, dlogits: UnsafeMutablePointer<Float>?, isa: Int32,
    threads: Int32
  ) throws(FP8Error) -> Float {
    var loss: Float = 0
    try check(
      cfp8_cross_entropy(logits, Int64(rows), Int64(vocab), targets, weights, gradScale, &loss, dlogits, isa, threads),
      "cross-entropy of \(rows)×\(vocab)")
    return loss
  }

  /// `cfp8_adamw`: one AdamW step over `count` parameters (param, m, v updated in place).
  package static func adamW(
    param: UnsafeMutablePointer<Float>?, m: UnsafeMutablePointer<Float>?, v: UnsafeMutablePointer<Float>?,
    grad: UnsafePointer<Float>?, count: Int, step: AdamWStep, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    var s = step.c
    try check(cfp8_adamw(param, m, v, grad, Int64(count), &s, isa, threads), "AdamW step over \(count) values")
  }
}
