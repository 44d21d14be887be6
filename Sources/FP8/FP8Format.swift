import CFP8

/// The element formats the emulator stores and converts: five 8-bit formats and three wide ones.
///
/// | format | bias | max finite | Inf | NaN encodings | −0 |
/// |---|---|---|---|---|---|
/// | `e4m3` (OCP e4m3fn) | 7 | 448 | none | S.1111.111 | yes |
/// | `e5m2` (OCP) | 15 | 57344 | S.11111.00 | S.11111.{01,10,11} | yes |
/// | `e4m3fnuz` | 8 | 240 | none | 0x80 only | no |
/// | `e5m2fnuz` | 16 | 57344 | none | 0x80 only | no |
/// | `e8m0` (MX scale) | 127 | 2^127 | none | 0xFF | no sign, no zero |
public enum ElementFormat: Int32, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  case e4m3 = 0
  case e5m2 = 1
  case e4m3fnuz = 2
  case e5m2fnuz = 3
  case e8m0 = 4
  case f16 = 16
  case bf16 = 17
  case f32 = 18

  /// The 8-bit formats.
  public static var fp8Formats: [ElementFormat] { [.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz, .e8m0] }

  public var isFP8: Bool { rawValue <= 4 }

  /// Bytes per element.
  public var byteSize: Int { Int(cfp8_format_size(rawValue)) }

  /// The largest finite value (FP8 formats), or the wide format's.
  public var maxFinite: Float {
    switch self {
    case .f16: return 65504
    case .bf16: return 0x1.FEp127
    case .f32: return .greatestFiniteMagnitude
    default: return (try? CKernels.describe(format: rawValue).max_finite) ?? .nan
    }
  }

  /// Names as written on the command line and in files: e4m3, e5m2, e4m3fnuz, e5m2fnuz, e8m0,
  /// f16, bf16, f32 (also the ml_dtypes spellings float8_e4m3fn, ... and fp16/fp32).
  public init?(name: String) {
    switch name.lowercased() {
    case "e4m3", "e4m3fn", "float8_e4m3fn", "f8_e4m3": self = .e4m3
    case "e5m2", "float8_e5m2", "f8_e5m2": self = .e5m2
    case "e4m3fnuz", "float8_e4m3fnuz": self = .e4m3fnuz
    case "e5m2fnuz", "float8_e5m2fnuz": self = .e5m2fnuz
    case "e8m0", "e8m0fnu", "float8_e8m0fnu": self = .e8m0
    case "f16", "fp16", "float16", "half": self = .f16
    case "bf16", "bfloat16": self = .bf16
    case "f32", "fp32", "float32", "float": self = .f32
    default: return nil
    }
  }

  public var description: String {
    switch self {
    case .e4m3: return "e4m3"
    case .e5m2: return "e5m2"
    case .e4m3fnuz: return "e4m3fnuz"
    case .e5m2fnuz: return "e5m2fnuz"
    case .e8m0: return "e8m0"
    case .f16: return "f16"
    case .bf16: return "bf16"
    case .f32: return "f32"
    }
  }
}

/// Stored by name ("e4m3"), and read from any spelling ``init(name:)`` takes.
extension ElementFormat: Codable {
  public init(from decoder: any Decoder) throws { self = try NameCoding.decode(decoder, "element format", ElementFormat.init(name:)) }
  public func encode(to encoder: any Encoder) throws { try NameCoding.encode(description, encoder) }
}
