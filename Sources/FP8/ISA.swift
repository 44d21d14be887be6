import CFP8

/// The SIMD code path a kernel runs on. `.auto` is the best the CPU has, unless the environment
/// variable `FP8EMU_ISA=scalar|avx2|avx512|neon` forces one (so that every path can be tested on
/// one machine). Every path gives the same bits; `.scalar` is the reference.
public enum ISA: Int32, CaseIterable, Sendable, CustomStringConvertible {
  case auto = -1
  case scalar = 0
  case avx2 = 1
  case avx512 = 2
  case neon = 3

  /// The concrete paths this CPU can run (always includes `.scalar`).
  public static var supported: [ISA] { allCases.filter { $0 != .auto && CKernels.isaSupported($0.rawValue) } }

  /// What `.auto` resolves to in this process.
  public static var `default`: ISA { ISA(rawValue: CKernels.isaDefault) ?? .scalar }

  /// Why `FP8EMU_ISA` was ignored, if it was.
  public static var environmentError: String? { CKernels.isaEnvironmentError }

  public var isSupported: Bool { self == .auto || CKernels.isaSupported(rawValue) }

  public init?(name: String) {
    guard let isa = ISA.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
    self = isa
  }

  public var description: String { CKernels.isaName(rawValue) }
}

/// Stored by name ("auto", "avx2"), so that files do not depend on the C enumeration.
extension ISA: Codable {
  public init(from decoder: any Decoder) throws { self = try NameCoding.decode(decoder, "SIMD path", ISA.init(name:)) }
  public func encode(to encoder: any Encoder) throws { try NameCoding.encode(description, encoder) }
}
