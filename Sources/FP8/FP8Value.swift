import CFP8

/// An 8-bit floating-point value stored as its bit pattern.
///
/// Conversions from `Float`, `Double` and `Float16` round once, straight to the format (a
/// `Double` is not first rounded to `Float`), with the chosen ``Rounding`` and ``OverflowPreset``;
/// stochastic rounding on a single value uses the bits of element 0 of its seed. Conversion to
/// `Float` is exact. Comparison follows IEEE 754: NaN is unordered (`nan != nan`), −0 == +0, and
/// the hash is consistent with `==` (both zeros hash alike).
public protocol FP8Value: Hashable, Comparable, CustomStringConvertible, Sendable {
  /// The format of this type.
  static var format: ElementFormat { get }
  /// The raw encoding.
  var bitPattern: UInt8 { get }
  init(bitPattern: UInt8)
}

extension FP8Value {
  /// Rounds `x` to this format.
  public init(_ x: Float, rounding: Rounding = .nearestEven, preset: OverflowPreset = .cudaSatfinite) {
    let r = rounding.cValue != 2 ? 0 : CKernels.stochasticBits(seed: rounding.seed, index: 0)
    if Self.format == .e8m0 {
      self.init(bitPattern: CKernels.encodeE8M0Reference(x, rounding: rounding.cValue))
    } else {
      self.init(bitPattern: CKernels.encodeReference(x, format: Self.format.rawValue, rounding: rounding.cValue,
                                                     preset: preset.cValue, random: r))
    }
  }

  /// Rounds `x` to this format directly (one rounding from the FP64 value).
  public init(_ x: Double, rounding: Rounding = .nearestEven, preset: OverflowPreset = .cudaSatfinite) {
    let r = rounding.cValue != 2 ? 0 : CKernels.stochasticBits(seed: rounding.seed, index: 0)
    self.init(bitPattern: CKernels.encodeReference(x, format: Self.format.rawValue, rounding: rounding.cValue,
                                                   preset: preset.cValue, random: r))
  }

  #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
  /// Rounds `x` to this format directly from its FP16 encoding.
  public init(_ x: Float16, rounding: Rounding = .nearestEven, preset: OverflowPreset = .cudaSatfinite) {
    if Self.format == .e8m0 {
      self.init(Double(x), rounding: rounding, preset: preset) // exact widening, one rounding
    } else {
      let r = rounding.cValue != 2 ? 0 : CKernels.stochasticBits(seed: rounding.seed, index: 0)
      self.init(bitPattern: CKernels.encodeReference(f16Bits: x.bitPattern, format: Self.format.rawValue,
                                                     rounding: rounding.cValue, preset: preset.cValue, random: r))
    }
  }
  #endif

  /// The exact value as `Float` (NaN encodings give a quiet NaN).
  public var floatValue: Float { CKernels.decodeTable(format: Self.format.rawValue)![Int(bitPattern)] }

  public var isNaN: Bool { floatValue.isNaN }
  public var isInfinite: Bool { floatValue.isInfinite }
  public var isFinite: Bool { floatValue.isFinite }
  public var isZero: Bool { floatValue == 0 }

  /// The NaN this format uses (E4M3 0x7F, E5M2 0x7F, FNUZ 0x80, E8M0 0xFF).
  public static var nan: Self {
    switch format {
    case .e4m3fnuz, .e5m2fnuz: return Self(bitPattern: 0x80)
    case .e8m0: return Self(bitPattern: 0xFF)
    default: return Self(bitPattern: 0x7F)
    }
  }
  /// The largest finite value (E4M3 448, E5M2 57344, E4M3FNUZ 240, E5M2FNUZ 57344, E8M0 2^127).
  public static var greatestFiniteMagnitude: Self {
    switch format {
    case .e4m3: return Self(bitPattern: 0x7E)
    case .e5m2: return Self(bitPattern: 0x7B)
    case .e8m0: return Self(bitPattern: 0xFE)
    default: return Self(bitPattern: 0x7F)
    }
  }
  /// The smallest positive value (a subnormal; E8M0: 2^-127).
  public static var leastNonzeroMagnitude: Self { Self(bitPattern: format == .e8m0 ? 0x00 : 0x01) }
  /// The smallest positive normal value.
  public static var leastNormalMagnitude: Self {
    Self(bitPattern: format == .e8m0 ? 0x00 : format == .e4m3 || format == .e4m3fnuz ? 0x08 : 0x04)
  }
  /// Positive zero (E8M0 has none: NaN).
  public static var zero: Self { Self(bitPattern: format == .e8m0 ? 0xFF : 0x00) }

  /// The least value greater than this one (IEEE nextUp): nextUp(−least) = −0 where −0 exists;
  /// the greatest finite value goes to +Inf (E5M2) or NaN (no Inf); +Inf and NaN stay.
  public var nextUp: Self { FP8Order<Self>.shared.next(self, up: true) }
  /// The greatest value less than this one (IEEE nextDown), symmetric to `nextUp`.
  public var nextDown: Self { FP8Order<Self>.shared.next(self, up: false) }

  public static func == (a: Self, b: Self) -> Bool { a.floatValue == b.floatValue }
  public static func < (a: Self, b: Self) -> Bool { a.floatValue < b.floatValue }
  public func hash(into h: inout Hasher) {
    let v = floatValue
    if v == 0 { h.combine(0 as UInt8) } else if v.isNaN { h.combine(1 as UInt8) } else { h.combine(v.bitPattern) }
  }

  /// The value and its bits, e.g. `448.0 (0x7E)`.
  public var description: String {
    let hex = String(bitPattern, radix: 16, uppercase: true)
    return "\(floatValue) (0x\(hex.count < 2 ? "0" + hex : hex))"
  }
}

extension Float {
  /// The exact value of an FP8 number.
  public init<T: FP8Value>(_ x: T) { self = x.floatValue }
}

extension Double {
  /// The exact value of an FP8 number.
  public init<T: FP8Value>(_ x: T) { self = Double(x.floatValue) }
}

/// All non-NaN encodings of a format sorted by value, for nextUp/nextDown.
final class FP8Order<T: FP8Value>: Sendable {
  let sorted: [(value: Float, bits: UInt8)]
  static var shared: FP8Order<T> { FP8Order<T>() }

  init() {
    var all: [(value: Float, bits: UInt8)] = []
    for b in 0...255 {
      let v = T(bitPattern: UInt8(b)).floatValue
      if !v.isNaN { all.append((v, UInt8(b))) }
    }
    sorted = all.sorted { $0.value < $1.value || ($0.value == $1.value && $0.bits > $1.bits) }
  }

  func next(_ x: T, up: Bool) -> T {
    let v = x.floatValue
    if v.isNaN { return x }
    if up {
      if v == .infinity { return x }
      // smallest value > v; among ±0 prefer −0 (sorted puts 0x80 before 0x00)
      if let e = sorted.first(where: { $0.value > v }) { return T(bitPattern: e.bits) }
    } else {
      if v == -.infinity { return x }
      if let e = sorted.last(where: { $0.value < v }) { return T(bitPattern: e.bits) }
    }
    return T.nan
  }
}

/// OCP E4M3 (`e4m3fn`): bias 7, max 448, no Inf, NaN S.1111.111, subnormals down to 2^-9.
public struct Float8E4M3: FP8Value {
  public static var format: ElementFormat { .e4m3 }
  public let bitPattern: UInt8
  public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
}

/// OCP E5M2: bias 15, max 57344, ±Inf S.11111.00, NaN S.11111.{01,10,11}, subnormals to 2^-16.
public struct Float8E5M2: FP8Value {
  public static var format: ElementFormat { .e5m2 }
  public let bitPattern: UInt8
  public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
  /// +Inf (0x7C).
  public static var infinity: Float8E5M2 { Float8E5M2(bitPattern: 0x7C) }
}

/// E4M3FNUZ (AMD MI300, Graphcore): bias 8, max 240, no Inf, no −0, the single NaN 0x80.
public struct Float8E4M3FNUZ: FP8Value {
  public static var format: ElementFormat { .e4m3fnuz }
  public let bitPattern: UInt8
  public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
}

/// E5M2FNUZ (AMD MI300, Graphcore): bias 16, max 57344, no Inf, no −0, the single NaN 0x80.
public struct Float8E5M2FNUZ: FP8Value {
  public static var format: ElementFormat { .e5m2fnuz }
  public let bitPattern: UInt8
  public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
}

/// E8M0 (OCP MX scale): unsigned 2^(e−127) for e in 0...254, NaN 0xFF; no sign, no zero.
/// Encoding: zero, negative, Inf and NaN inputs give NaN; see ``Rounding`` for the modes.
public struct Float8E8M0: FP8Value {
  public static var format: ElementFormat { .e8m0 }
  public let bitPattern: UInt8
  public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
}
