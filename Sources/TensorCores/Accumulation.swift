import FP8

/// How a matrix product chains tensor-core blocks along K.
///
/// | case | what happens along K | who does it |
/// |---|---|---|
/// | `.fast` | the running FP32 accumulator is the c of the next block | the GPU's own chaining; CUTLASS "FastAccum", cuBLASLt `FAST_ACCUM`, `_scaled_mm(use_fast_accum=True)` |
/// | `.promoted(every: N)` | every N elements of K a partial, started from zero, is added to a separate FP32 accumulator with a round-to-nearest-even FP32 add (block scales: `acc = fma(sa·sb, partial, acc)`) | CUTLASS default (`mma_promotion_interval` = 4 wgmma = 128), DeepGEMM |
/// | `.ideal` | plain FP32 FMA in k order | a CPU FP32 GEMM |
/// | `.exact` | FP64 sum of the exact products, rounded once to FP32 (exact for E4M3 up to K = 2^17) | reference |
public enum Accumulation: Sendable, Hashable, CustomStringConvertible {
  case fast
  case promoted(every: Int = 128)
  case ideal
  case exact

  /// The DeepSeek-V3 / CUTLASS default: promotion every 128 elements of K.
  public static var promoted: Accumulation { .promoted(every: 128) }

  /// "fast", "promoted", "promoted=256", "ideal", "exact".
  public init?(name: String) {
    let s = name.lowercased()
    switch s {
    case "fast": self = .fast
    case "promoted": self = .promoted(every: 128)
    case "ideal": self = .ideal
    case "exact": self = .exact
    default:
      guard s.hasPrefix("promoted="), let n = Int(s.dropFirst(9)), n > 0 else { return nil }
      self = .promoted(every: n)
    }
  }

  public var description: String {
    switch self {
    case .fast: return "fast"
    case .promoted(let n): return n == 128 ? "promoted" : "promoted=\(n)"
    case .ideal: return "ideal"
    case .exact: return "exact"
    }
  }

  var cCode: Int32 {
    switch self {
    case .fast: return CKernels.tcAccumulationFast
    case .promoted: return CKernels.tcAccumulationPromoted
    case .ideal: return CKernels.tcAccumulationIdeal
    case .exact: return CKernels.tcAccumulationExact
    }
  }

  var interval: Int32 {
    if case .promoted(let n) = self { return Int32(clamping: n) }
    return 128
  }
}

/// The numerics of a matrix product: a GPU's tensor cores (the model for the operands' input
/// format, FP8 on sm_89+ or hybrid FP16 below), an explicit block-FMA model, or the CPU
/// references.
public enum Numerics: Sendable, Hashable, CustomStringConvertible {
  case gpu(GPUArchitecture, accumulation: Accumulation)
  case model(BlockFMAModel, accumulation: Accumulation)
  /// Plain FP32 FMA accumulation in k order.
  case ideal
  /// FP64 accumulation of exact products, rounded once.
  case exact

  public var description: String {
    switch self {
    case .gpu(let g, let acc): return "\(g.name) \(acc)"
    case .model(let m, let acc): return "model(\(m)) \(acc)"
    case .ideal: return "ideal FP32"
    case .exact: return "exact"
    }
  }
}
