import FP8
import TensorCores

/// The GPU a training run emulates, chosen by name (`--gpu`). Its compute capability decides the
/// numerics of the FP8 products: an sm_80 target (A100, no FP8 tensor cores) gives the hybrid
/// FP16 fallback.
///
/// | name | sm | numerics |
/// |---|---|---|
/// | `ideal` / `cpu` | – | ideal FP32 accumulation (the engine's k-order reference) |
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

  /// The names above, case-insensitive, and the aliases `cpu`, `none`, `sm_90`, `h200`, `sm_100`,
  /// `sm_80`, `a10`.
  public init?(name: String) {
    let s = name.lowercased()
    if s == "cpu" || s == "none" { self = .ideal; return }
    if s == "sm_90" || s == "sm90" || s == "h200" { self = .h100; return }
    if s == "sm_100" || s == "sm100" { self = .b200; return }
    if s == "sm_80" || s == "sm80" || s == "a10" { self = .a100; return }
    guard let g = TrainingGPU(rawValue: s) else { return nil }
    self = g
  }

  /// The numerics of an FP8 matrix product on this GPU.
  public var numerics: Numerics {
    switch self {
    case .ideal: return .ideal
    case .h100: return .gpu(.h100, accumulation: .promoted(every: 128))
    case .h100Fast: return .gpu(.h100, accumulation: .fast)
    case .b200: return .gpu(.b200, accumulation: .fast)
    case .a100: return .gpu(.a100, accumulation: .fast)
    }
  }

  /// The short name of those numerics in result tables ("h100-promoted128").
  public var numericsName: String {
    switch self {
    case .h100: return "h100-promoted128"
    case .a100: return "a100-hybrid-fp16"
    default: return rawValue
    }
  }

  public var description: String { rawValue }
}

/// Stored by name; any spelling ``init(name:)`` takes is read back (checkpoints keep what the user
/// typed before this was a type).
extension TrainingGPU: Codable {
  public init(from decoder: any Decoder) throws { self = try NameCoding.decode(decoder, "GPU", TrainingGPU.init(name:)) }
  public func encode(to encoder: any Encoder) throws { try NameCoding.encode(rawValue, encoder) }
}
