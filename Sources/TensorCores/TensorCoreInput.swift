import FP8

/// The input formats of NVIDIA tensor cores. TF32 values are FP32 values with 10 fraction bits;
/// an FP32 operand given to a TF32 product is read with its low 13 significand bits dropped.
public enum TensorCoreInput: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  case e4m3, e5m2, fp16, bf16, tf32

  /// The storage format of an operand of this input.
  public var elementFormat: ElementFormat {
    switch self {
    case .e4m3: return .e4m3
    case .e5m2: return .e5m2
    case .fp16: return .f16
    case .bf16: return .bf16
    case .tf32: return .f32
    }
  }

  public var isFP8: Bool { self == .e4m3 || self == .e5m2 }

  /// Accepts "E4M3", "e5m2", "fp16", "f16", "bf16", "tf32" (the vector folders use these names).
  public init?(name: String) {
    switch name.lowercased() {
    case "e4m3", "e4m3fn": self = .e4m3
    case "e5m2": self = .e5m2
    case "fp16", "f16", "half": self = .fp16
    case "bf16", "bfloat16": self = .bf16
    case "tf32": self = .tf32
    default: return nil
    }
  }

  public var description: String { isFP8 ? rawValue.uppercased() : rawValue }
}

/// The tensor core's accumulator format.
public enum TensorCoreAccumulator: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  /// binary32, results rounded toward zero
  case fp32
  /// binary16, c rounded to FP16 first, results rounded to nearest even
  case fp16
  public var description: String { rawValue }
}
