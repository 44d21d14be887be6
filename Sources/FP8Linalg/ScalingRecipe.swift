import FP8

/// Dequantisation scales of a scaled matrix product D = Σ_k s · a[i,k] · b[k,j], applied where
/// the real kernels apply them. Scales multiply the decoded operands ("scale_inv" in DeepSeek's
/// checkpoints, `scale_a`/`scale_b` in `torch._scaled_mm`). Float scales must be finite.
///
/// | recipe | shapes (A is M×K, B is K×N) | where it is applied |
/// |---|---|---|
/// | `.none` | – | – |
/// | `.perTensor(a:b:)` | one each | epilogue: v = acc · (a·b) |
/// | `.rowwise(a:b:)` | a: M, b: N | epilogue: v = acc · (a[i]·b[j]) |
/// | `.blockwise(a:b:)` | a: M×⌈K/128⌉ (1×128 tiles), b: ⌈K/128⌉×⌈N/128⌉ (128×128 blocks), row-major | per 128-long K block: acc = fma(a[i][kb]·b[kb][j/128], partial, acc), partial an FMA chain from +0 (DeepGEMM) |
/// | `.mxfp8(a:b:)` | E8M0 bytes, a: M×⌈K/32⌉, b: ⌈K/32⌉×N, row-major | folded into the decoded FP8 operands (exact unless the scaled operand overflows FP32 to ±Inf); FP8 operands only |
public enum ScalingRecipe: Sendable, Hashable, CustomStringConvertible {
  case none
  case perTensor(a: Float, b: Float)
  case rowwise(a: [Float], b: [Float])
  case blockwise(a: [Float], b: [Float])
  case mxfp8(a: [UInt8], b: [UInt8])

  /// The K-block length of `.blockwise` (1×128 activation tiles, 128×128 weight blocks).
  public static let blockSize = 128
  /// The K-block length of `.mxfp8`.
  public static let mxBlockSize = 32

  /// Expected scale counts (a, b) for an M×K by K×N product.
  public func expectedCounts(m: Int, n: Int, k: Int) -> (a: Int, b: Int) {
    func ceilDiv(_ x: Int, _ y: Int) -> Int { (x + y - 1) / y }
    switch self {
    case .none: return (0, 0)
    case .perTensor: return (1, 1)
    case .rowwise: return (m, n)
    case .blockwise: return (m * ceilDiv(k, Self.blockSize), ceilDiv(k, Self.blockSize) * ceilDiv(n, Self.blockSize))
    case .mxfp8: return (m * ceilDiv(k, Self.mxBlockSize), ceilDiv(k, Self.mxBlockSize) * n)
    }
  }

  /// Checks the scale shapes and values for an M×K by K×N product.
  /// - Throws: `.badScale` for a wrong count, a non-finite float scale or an E8M0 NaN (0xFF).
  public func validate(m: Int, n: Int, k: Int) throws(FP8Error) {
    let (ea, eb) = expectedCounts(m: m, n: n, k: k)
    let (ca, cb): (Int, Int)
    switch self {
    case .none: return
    case .perTensor(let a, let b):
      guard a.isFinite, b.isFinite else { throw .badScale("per-tensor scales \(a), \(b) must be finite") }
      return
    case .rowwise(let a, let b), .blockwise(let a, let b):
      (ca, cb) = (a.count, b.count)
      guard a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite) else { throw .badScale("\(self.name) scales must be finite") }
    case .mxfp8(let a, let b):
      (ca, cb) = (a.count, b.count)
      guard !a.contains(0xFF), !b.contains(0xFF) else { throw .badScale("E8M0 scale 0xFF is NaN") }
    }
    guard ca == ea else { throw .badScale("\(name): \(ca) scales for A, expected \(ea) for M=\(m), K=\(k)") }
    guard cb == eb else { throw .badScale("\(name): \(cb) scales for B, expected \(eb) for K=\(k), N=\(n)") }
  }

  /// "none", "tensor", "rowwise", "block", "mxfp8".
  public var name: String {
    switch self {
    case .none: return "none"
    case .perTensor: return "tensor"
    case .rowwise: return "rowwise"
    case .blockwise: return "block"
    case .mxfp8: return "mxfp8"
    }
  }
  public var description: String { name }
}
