import FP8

/// The block-FMA model of one tensor-core operation, `d = c + Σ_{i<L} a_i·b_i` as a single fused
/// step (Khattak & Mikaitis, "Accurate Models of NVIDIA Tensor Cores", arXiv:2512.07004; MMA-Sim,
/// arXiv:2511.10909):
///
/// 1. Special values first: any NaN, Inf×0, or +Inf and −Inf together give NaN (0x7FFFFFFF);
///    otherwise any Inf gives that Inf.
/// 2. Products are exact and not renormalised; a product's exponent is `e_a + e_b`, where a
///    subnormal input keeps its format's minimum exponent. A non-zero `c` is one more term with
///    exponent ⌊log2|c|⌋ (with an FP16 accumulator, c is first rounded to FP16).
/// 3. The alignment point E is the largest term exponent, but not below `minExponent`.
/// 4. Every term is truncated toward zero to a multiple of 2^(E−F) (no sticky bit); the
///    truncated terms are summed exactly.
/// 5. The sum is rounded: for FP32, after keeping F + 1 significant bits (truncated) when F < 23;
///    for FP16, once from the exact sum:
///
/// | accumulator | rounding of the result        | c                       |
/// |-------------|-------------------------------|-------------------------|
/// | FP32        | toward zero (no overflow to Inf) | FP32                |
/// | FP16        | to nearest even               | rounded to FP16 first   |
///
/// Where c enters the block is `cInput` (`.fused` above; see ``CInput`` for the others).
public struct BlockFMAModel: Sendable, Hashable, CustomStringConvertible {
  /// Where the accumulator input c enters a block.
  public enum CInput: Sendable, Hashable {
    /// One more term of the aligned sum (every measured path except the two below).
    case fused
    /// The products alone are aligned and summed, their sum rounded toward zero to FP32, and c
    /// added with one round-to-nearest-even FP32 addition (B200 FP8, FP32 accumulator).
    case addedAfter
    /// The products run as two chained FP16-accumulator blocks of the model, the first from +0
    /// over the products at positions t mod 4 ∈ {0, 1}, the second over t mod 4 ∈ {2, 3}; then
    /// c, rounded to FP16, is added with one round-to-nearest-even FP16 addition (H100 and B200
    /// FP8, FP16 accumulator).
    case addedAfterHalves
  }

  /// L: products per block.
  public var blockSize: Int
  /// F: fraction bits kept below the alignment point (23 + the "extra alignment bits").
  public var fractionBits: Int
  /// Floor of the alignment point, or nil for none (V100).
  public var minExponent: Int?
  public var accumulator: TensorCoreAccumulator
  public var cInput: CInput

  /// `.addedAfterHalves` needs an FP16 accumulator (the C layer refuses it otherwise).
  public init(blockSize: Int, fractionBits: Int, minExponent: Int?, accumulator: TensorCoreAccumulator = .fp32,
              cInput: CInput = .fused) {
    self.blockSize = blockSize
    self.fractionBits = fractionBits
    self.minExponent = minExponent
    self.accumulator = accumulator
    self.cInput = cInput
  }

  package var cModel: CTensorCoreModel {
    let mode: CTensorCoreModel.CMode
    switch cInput {
    case .fused: mode = .fused
    case .addedAfter: mode = .addedAfter
    case .addedAfterHalves: mode = .addedAfterHalves
    }
    return CTensorCoreModel(blockSize: Int32(clamping: blockSize), fractionBits: Int32(clamping: fractionBits),
                            minExponent: minExponent.map { Int32(clamping: $0) } ?? CTensorCoreModel.noMinExponent,
                            fp16Accumulator: accumulator == .fp16, cMode: mode)
  }

  /// `d = c + Σ a_i·b_i` as a chain of blocks of L in k order, each block's result the c of the
  /// next (the GPU's own chaining when K > L, e.g. Ada FP8: K = 32 as two blocks of 16).
  /// `a` and `b` hold values that `input` represents exactly (thrown otherwise). With an FP16
  /// accumulator the result is the FP16 value widened to FP32.
  public func dot(_ a: [Float], _ b: [Float], c: Float = 0, input: TensorCoreInput) throws(FP8Error) -> Float {
    try CKernels.tensorCoreDot(a, b, c: c, format: input.elementFormat.rawValue, model: cModel)
  }

  public var description: String {
    let floor = minExponent.map { "\($0)" } ?? "none"
    let c = cInput == .fused ? "" : cInput == .addedAfter ? " c-added-after" : " c-added-after-halves"
    return "L=\(blockSize) F=\(fractionBits) Emin=\(floor) acc=\(accumulator)\(c)"
  }
}
