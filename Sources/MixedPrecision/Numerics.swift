/// How the tensor cores of a GPU add up the products of an FP8 matrix product.
///
/// | case | products | accumulator | where |
/// |---|---|---|---|
/// | `ideal` | exact (FP32 of the dequantised operands) | FP32, one rounding per add, k order | reference |
/// | `h100Fast` | FP8 × FP8 exact | H100 fast accumulation (truncated ~14-bit sums, no promotion) | sm_90 `wgmma` |
/// | `h100Promoted(interval:)` | FP8 × FP8 exact | partial sums promoted to FP32 every `interval` k (DeepSeek-V3: 128) | sm_90 + CUDA-core promotion |
/// | `b200` | FP8 × FP8 exact | Blackwell block FMA with wider accumulator | sm_100 |
/// | `a100HybridFP16` | FP8 storage decoded to FP16 | FP16 tensor-core arithmetic, FP32 accumulate | sm_80 fallback |
///
/// Only `ideal` is computed by this module (``IdealMatmulEngine``). The other cases are
/// computed by an engine over the C kernels and the tensor-core model; an engine that cannot
/// compute a case throws ``TrainingError/numericsNotAvailable(_:)``, never falls back silently.
public enum Numerics: Sendable, Hashable, CustomStringConvertible {
  case ideal
  case h100Fast
  case h100Promoted(interval: Int)
  case b200
  case a100HybridFP16

  public var description: String {
    switch self {
    case .ideal: return "ideal"
    case .h100Fast: return "h100-fast"
    case .h100Promoted(let i): return "h100-promoted\(i)"
    case .b200: return "b200"
    case .a100HybridFP16: return "a100-hybrid-fp16"
    }
  }

  /// Parses `ideal`, `h100-fast`, `h100-promoted` (128) or `h100-promotedN`, `b200`, `a100-hybrid-fp16`.
  public init?(name: String) {
    let s = name.lowercased()
    switch s {
    case "ideal", "fp32": self = .ideal
    case "h100-fast", "h100fast": self = .h100Fast
    case "h100-promoted", "h100promoted": self = .h100Promoted(interval: 128)
    case "b200": self = .b200
    case "a100-hybrid-fp16", "a100", "hybrid-fp16": self = .a100HybridFP16
    default:
      if s.hasPrefix("h100-promoted"), let i = Int(s.dropFirst("h100-promoted".count)), i > 0 {
        self = .h100Promoted(interval: i)
      } else {
        return nil
      }
    }
  }
}

/// The GPU a training run emulates, chosen by name (`--gpu`). Its compute capability decides the
/// numerics: asking for an sm_80 target (A100, no FP8 tensor cores) gives the hybrid FP16 fallback.
///
/// | name | sm | numerics |
/// |---|---|---|
/// | `ideal` / `cpu` | – | ideal FP32 accumulation |
/// | `h100` | 90 | fast accumulation, promoted to FP32 every 128 (the default of FP8 recipes) |
/// | `h100-fast` | 90 | fast accumulation, never promoted |
/// | `b200` | 100 | Blackwell block FMA |
/// | `a100` | 80 | FP8 storage, FP16 tensor-core arithmetic |
public enum TrainingGPU: String, CaseIterable, Sendable, CustomStringConvertible {
  case ideal
  case h100
  case h100Fast = "h100-fast"
  case b200
  case a100

  public init?(name: String) {
    let s = name.lowercased()
    if s == "cpu" || s == "none" { self = .ideal; return }
    if s == "sm_90" || s == "sm90" || s == "h200" { self = .h100; return }
    if s == "sm_100" || s == "sm100" { self = .b200; return }
    if s == "sm_80" || s == "sm80" || s == "a10" { self = .a100; return }
    guard let g = TrainingGPU(rawValue: s) else { return nil }
    self = g
  }

  /// The compute capability (major × 10 + minor); 0 for the ideal target.
  public var computeCapability: Int {
    switch self {
    case .ideal: return 0
    case .h100, .h100Fast: return 90
    case .b200: return 100
    case .a100: return 80
    }
  }

  /// The numerics of an FP8 matrix product on this GPU.
  public var numerics: Numerics {
    switch self {
    case .ideal: return .ideal
    case .h100: return .h100Promoted(interval: 128)
    case .h100Fast: return .h100Fast
    case .b200: return .b200
    case .a100: return .a100HybridFP16
    }
  }

  public var description: String { rawValue }
}
