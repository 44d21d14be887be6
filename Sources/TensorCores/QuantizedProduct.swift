import FP8

/// Products of quantised tensors in the layout of a linear layer, Y = X·Wᵀ: both operands are
/// quantised along K (k-major: A is M × K, B is N × K) and carry their scales as the quantiser
/// produced them (FP32 dequantisation multipliers, or E8M0 bytes for MXFP8).
extension TensorCoreScaling {
  /// The kernels' scaling for A (M × K) times Bᵀ (B: N × K). The granularities pair up as the
  /// recipes use them: per-tensor with per-tensor, per-channel (per token) with per-channel,
  /// 1×128 tiles with 128×128 blocks (DeepSeek-V3), MXFP8 with MXFP8. B's scale grid is stored
  /// along K per output column; the kernels want it along N per K block, so it is transposed here.
  public init(a: QuantizedTensor, transposedB b: QuantizedTensor) throws(FP8Error) {
    guard a.cols == b.cols else { throw .badShape("A is \(a.rows)x\(a.cols), B is \(b.rows)x\(b.cols): K differs") }
    let n = b.rows, k = a.cols
    for q in [a, b] {
      let shape = try q.granularity.scaleShape(rows: q.rows, cols: q.cols)
      guard (q.granularity == .mxfp8 ? q.mxScales.count : q.scales.count) == shape.rows * shape.cols else {
        throw .badScale("\(q.granularity) scales of a \(q.rows)x\(q.cols) operand need \(shape.rows)x\(shape.cols) values")
      }
    }
    switch (a.granularity, b.granularity) {
    case (.perTensor, .perTensor):
      self = .tensor(a: a.scales[0], b: b.scales[0])
    case (.perChannel, .perChannel):
      self = .rowwise(a: a.scales, b: b.scales)
    case (.tile128, .block128):
      self = .block(a: a.scales, b: transpose(b.scales, rows: (n + 127) / 128, cols: (k + 127) / 128))
    case (.mxfp8, .mxfp8):
      self = .mx(a: a.mxScales, b: transpose(b.mxScales, rows: n, cols: (k + 31) / 32))
    default:
      throw .badScale("no tensor-core scaling pairs \(a.granularity) A with \(b.granularity) B")
    }
  }
}

extension TensorCoreGEMM {
  /// D (M × N) = A · Bᵀ (+ accumulator, wgmma's D = A·B + D) for quantised A (M × K) and B (N × K),
  /// with their scales applied where the real kernels apply them (see
  /// ``TensorCoreScaling/init(a:transposedB:)``).
  public static func matmul(
    _ a: QuantizedTensor, transposedB b: QuantizedTensor, accumulator: [Float]? = nil, numerics: Numerics,
    isa: ISA = .auto, threads: Int = 0
  ) throws(FP8Error) -> [Float] {
    let scaling = try TensorCoreScaling(a: a, transposedB: b)
    let opA = try TensorCoreOperand(storage: .bytes(a.bits), format: a.format, rows: a.rows, cols: a.cols)
    let opB = try TensorCoreOperand(storage: .bytes(b.bits), format: b.format, rows: b.cols, cols: b.rows, transposed: true)
    return try matmul(opA, opB, accumulator: accumulator, numerics: numerics, scaling: scaling, isa: isa, threads: threads)
  }
}

