import FP8

/// The epilogue of a matrix product: D = alpha·v + beta·C + bias, stored in `outputFormat`.
///
/// With v the scaled FP32 accumulator (see `ScalingRecipe`), each element is computed in FP32 as
/// `t = alpha·v`, then `t = fma(beta, C[i,j], t)` when beta ≠ 0, then `t = t + bias[j]`. Storage:
///
/// | output | stored value |
/// |---|---|
/// | f32 | t |
/// | f16, bf16 | t rounded to nearest even (overflow to ±Inf, NaN stays NaN) |
/// | FP8 | satfinite(t · outputScale) rounded to nearest even (PTX `cvt.rn.satfinite`) |
///
/// `amax` in the result is max |t| over D before `outputScale` (NaN if any t is NaN), as cuBLASLt's
/// amax output.
public struct Epilogue: Sendable, Hashable {
  public var alpha: Float
  public var beta: Float
  /// C: an M×N FP32 row-major matrix, read when beta ≠ 0.
  public var c: Matrix?
  /// One FP32 value per column of D.
  public var bias: [Float]?
  public var outputFormat: ElementFormat
  /// Multiplies t before an FP8 output is encoded (the quantisation scale); must be finite.
  public var outputScale: Float

  public init(
    alpha: Float = 1, beta: Float = 0, c: Matrix? = nil, bias: [Float]? = nil, outputFormat: ElementFormat = .f32,
    outputScale: Float = 1
  ) {
    self.alpha = alpha
    self.beta = beta
    self.c = c
    self.bias = bias
    self.outputFormat = outputFormat
    self.outputScale = outputScale
  }

  /// D = A·B in FP32.
  public static let identity = Epilogue()
}

/// The result of `matmul`: D (row-major, dense, in the epilogue's output format) and its amax.
public struct MatmulResult: Sendable, Hashable {
  public var d: Matrix
  public var amax: Float
}
