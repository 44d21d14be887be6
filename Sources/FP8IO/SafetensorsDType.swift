import FP8

/// The element types of the safetensors format (as of safetensors 0.6/0.7: the list the reference
/// Rust implementation accepts). Sizes are in bits because F4 and F6 are packed sub-byte types.
///
/// The declaration order is the reference's: its writer lays tensors out by descending dtype in
/// this order (then by name), which `SafetensorsWriter` reproduces byte for byte.
public enum SafetensorsDType: String, CaseIterable, Sendable, Hashable, Comparable, CustomStringConvertible {
  case bool = "BOOL"
  case f4 = "F4"
  case f6e2m3 = "F6_E2M3"
  case f6e3m2 = "F6_E3M2"
  case u8 = "U8"
  case i8 = "I8"
  case f8e5m2 = "F8_E5M2"
  case f8e4m3 = "F8_E4M3"
  case f8e8m0 = "F8_E8M0"
  case f8e4m3fnuz = "F8_E4M3FNUZ"
  case f8e5m2fnuz = "F8_E5M2FNUZ"
  case i16 = "I16"
  case u16 = "U16"
  case f16 = "F16"
  case bf16 = "BF16"
  case i32 = "I32"
  case u32 = "U32"
  case f32 = "F32"
  case c64 = "C64"
  case f64 = "F64"
  case i64 = "I64"
  case u64 = "U64"

  /// Bits per element.
  public var bitSize: Int {
    switch self {
    case .f4: return 4
    case .f6e2m3, .f6e3m2: return 6
    case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
    case .i16, .u16, .f16, .bf16: return 16
    case .i32, .u32, .f32: return 32
    case .c64, .f64, .i64, .u64: return 64
    }
  }

  var rank: Int { Self.allCases.firstIndex(of: self)! }
  public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }

  /// The emulator's element format for this dtype, if it has one.
  public var elementFormat: ElementFormat? {
    switch self {
    case .f8e4m3: return .e4m3
    case .f8e5m2: return .e5m2
    case .f8e4m3fnuz: return .e4m3fnuz
    case .f8e5m2fnuz: return .e5m2fnuz
    case .f8e8m0: return .e8m0
    case .f16: return .f16
    case .bf16: return .bf16
    case .f32: return .f32
    default: return nil
    }
  }

  /// The dtype that stores an element format.
  public init(_ format: ElementFormat) {
    // `elementFormat` covers every format, so the search always finds one.
    self = Self.allCases.first { $0.elementFormat == format }!
  }

  /// FP8 element types that carry values (E8M0 is a scale type).
  public var isFP8Value: Bool { [.f8e4m3, .f8e5m2, .f8e4m3fnuz, .f8e5m2fnuz].contains(self) }
  /// F32, F16, BF16.
  public var isWideFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }

  public var description: String { rawValue }
}
