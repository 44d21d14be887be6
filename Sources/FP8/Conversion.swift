/// How a value that falls between two representable values is rounded.
///
/// | mode | E4M3/E5M2/FNUZ | E8M0 |
/// |---|---|---|
/// | `nearestEven` | ties to even | as ml_dtypes 0.7.0: 2^e·1.f → 2^(e+1) iff f ≥ 0.5 (ties up) |
/// | `towardZero` | truncate | 2^floor(log2 x) |
/// | `stochastic` | see below | not offered (NaN result / `badRounding`) |
/// | `up` | not offered (`badRounding`) | 2^ceil(log2 x) (Transformer Engine MXFP8 scales) |
///
/// Stochastic rounding adds a 32-bit random fraction r/2^32 of one unit in the last place to
/// the discarded part of |x| (itself truncated to 32 bits of that unit) and rounds the magnitude
/// up on carry. The bits of element i are `cfp8_stochastic_bits(seed, i)`, a counter-based hash,
/// so results are the same on every SIMD path and thread count.
public enum Rounding: Sendable, Hashable {
  /// Round to nearest, ties to even (IEEE default, `cvt.rn`).
  case nearestEven
  /// Truncate toward zero.
  case towardZero
  /// Stochastic rounding; the random bits of element i are a pure function of (seed, i), so the
  /// result does not depend on thread count or SIMD path.
  case stochastic(seed: UInt64)
  /// Toward +infinity; E8M0 only.
  case up

  package var cValue: Int32 {
    switch self {
    case .nearestEven: return 0
    case .towardZero: return 1
    case .stochastic: return 2
    case .up: return 3
    }
  }

  /// Command-line names: rne, rz, stochastic (seed separate), up.
  public init?(name: String, seed: UInt64 = 0) {
    switch name.lowercased() {
    case "rne", "nearest", "nearest-even": self = .nearestEven
    case "rz", "toward-zero", "trunc": self = .towardZero
    case "sr", "stochastic": self = .stochastic(seed: seed)
    case "up", "ru": self = .up
    default: return nil
    }
  }

  public var name: String {
    switch self {
    case .nearestEven: return "rne"
    case .towardZero: return "rz"
    case .stochastic: return "stochastic"
    case .up: return "up"
    }
  }
  package var seed: UInt64 { if case .stochastic(let s) = self { return s } else { return 0 } }
}

/// Overflow and NaN conventions of real implementations (docs/conversion.md): `mlDtypes` and
/// `pytorch` are what ml_dtypes 0.7.0 and torch 2.13.0's CPU casts give on every input, the CUDA
/// presets follow `cuda_fp8.hpp`. Common to all: −0 → 0x80, 464 → 448 (tie to even); FNUZ:
/// overflow, Inf and NaN → 0x80, −0 → 0x00.
///
/// | input | cudaSatfinite | cudaNosat | mlDtypes | pytorch |
/// |---|---|---|---|---|
/// | E4M3 overflow (\|x\| > 464) or ±Inf | 0x7E\|s | 0x7F\|s | 0x7F\|s | 0x7E\|s |
/// | E4M3 NaN | 0x7F | 0x7F | 0x7F\|s | 0x7F\|s |
/// | E5M2 overflow (\|x\| ≥ 61440) or ±Inf | 0x7B\|s | 0x7C\|s | 0x7C\|s | 0x7C\|s |
/// | E5M2 NaN | 0x7F | 0x7F | 0x7E\|s | 0x7F\|s |
public enum OverflowPreset: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  /// PTX `cvt.rn.satfinite` and Transformer Engine: overflow saturates to ±max, NaN → 0x7F.
  case cudaSatfinite = "cuda-satfinite"
  /// `cuda_fp8.hpp` with `__NV_NOSAT`.
  case cudaNosat = "cuda-nosat"
  /// ml_dtypes 0.7.0: OCP non-saturating.
  case mlDtypes = "ml-dtypes"
  /// torch 2.13.0's CPU casts: E4M3 saturates to ±448 (also ±Inf), E5M2 does not.
  case pytorch = "pytorch"

  package var cValue: Int32 {
    switch self {
    case .cudaSatfinite: return 0
    case .cudaNosat: return 1
    case .mlDtypes: return 2
    case .pytorch: return 3
    }
  }
  public var description: String { rawValue }
}

/// Bulk conversions between FP32 and the FP8 formats.
public enum FP8Conversion {
  /// Encodes FP32 values into an FP8 format.
  public static func encode(
    _ values: [Float], to format: ElementFormat, rounding: Rounding = .nearestEven,
    preset: OverflowPreset = .cudaSatfinite, isa: ISA = .auto
  ) throws(FP8Error) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count)
    try values.withUnsafeBufferPointer { (src) throws(FP8Error) in
      try out.withUnsafeMutableBufferPointer { (dst) throws(FP8Error) in
        try CKernels.encode(
          src.baseAddress, srcFormat: ElementFormat.f32.rawValue, dst.baseAddress, dstFormat: format.rawValue,
          count: values.count, rounding: rounding.cValue, preset: preset.cValue, seed: rounding.seed,
          randomBits: nil, isa: isa.rawValue, threads: 0)
      }
    }
    return out
  }

  /// Encodes FP16 values (directly, one rounding).
  public static func encode(
    _ values: [Float16], to format: ElementFormat, rounding: Rounding = .nearestEven,
    preset: OverflowPreset = .cudaSatfinite, isa: ISA = .auto
  ) throws(FP8Error) -> [UInt8] {
    try encodeRaw(values, srcFormat: .f16, to: format, rounding: rounding, preset: preset, isa: isa)
  }

  /// Encodes BF16 values given as bit patterns (directly, one rounding).
  public static func encode(
    bf16Bits values: [UInt16], to format: ElementFormat, rounding: Rounding = .nearestEven,
    preset: OverflowPreset = .cudaSatfinite, isa: ISA = .auto
  ) throws(FP8Error) -> [UInt8] {
    try encodeRaw(values, srcFormat: .bf16, to: format, rounding: rounding, preset: preset, isa: isa)
  }

  static func encodeRaw<T>(
    _ values: [T], srcFormat: ElementFormat, to format: ElementFormat, rounding: Rounding, preset: OverflowPreset, isa: ISA
  ) throws(FP8Error) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count)
    try values.withUnsafeBufferPointer { (src) throws(FP8Error) in
      try out.withUnsafeMutableBufferPointer { (dst) throws(FP8Error) in
        try CKernels.encode(
          UnsafeRawPointer(src.baseAddress), srcFormat: srcFormat.rawValue, dst.baseAddress, dstFormat: format.rawValue,
          count: values.count, rounding: rounding.cValue, preset: preset.cValue, seed: rounding.seed,
          randomBits: nil, isa: isa.rawValue, threads: 0)
      }
    }
    return out
  }

  /// Buffer version: encodes `count` elements of `source` (F32, F16 or BF16) into `destination`.
  /// `randomBits`, when given, supplies the stochastic bits (one word per element) instead of
  /// the seed. Parallel (OpenMP, `threads` 0 = all) above 2^20 elements.
  public static func encode(
    _ source: UnsafeRawPointer, from sourceFormat: ElementFormat, into destination: UnsafeMutablePointer<UInt8>,
    format: ElementFormat, count: Int, rounding: Rounding = .nearestEven, preset: OverflowPreset = .cudaSatfinite,
    randomBits: UnsafePointer<UInt32>? = nil, isa: ISA = .auto, threads: Int = 0
  ) throws(FP8Error) {
    guard count >= 0 else { throw .badShape("negative count \(count)") }
    try CKernels.encode(
      source, srcFormat: sourceFormat.rawValue, destination, dstFormat: format.rawValue, count: count,
      rounding: rounding.cValue, preset: preset.cValue, seed: rounding.seed, randomBits: randomBits,
      isa: isa.rawValue, threads: Int32(clamping: threads))
  }

  /// Buffer version of decode: `count` FP8 bytes into F32, F16 or BF16 elements.
  public static func decode(
    _ source: UnsafePointer<UInt8>, format: ElementFormat, into destination: UnsafeMutableRawPointer,
    as destinationFormat: ElementFormat, count: Int, isa: ISA = .auto, threads: Int = 0
  ) throws(FP8Error) {
    guard count >= 0 else { throw .badShape("negative count \(count)") }
    try CKernels.decode(
      source, srcFormat: format.rawValue, destination, dstFormat: destinationFormat.rawValue, count: count,
      isa: isa.rawValue, threads: Int32(clamping: threads))
  }

  /// Decodes FP8 bit patterns to FP16 bit patterns (E8M0 rounds to nearest even; see cfp8_decode).
  public static func decodeToF16Bits(_ bits: [UInt8], from format: ElementFormat, isa: ISA = .auto) throws(FP8Error) -> [UInt16] {
    try decode16(bits, format: format, to: .f16, isa: isa)
  }

  /// Decodes FP8 bit patterns to BF16 bit patterns (exact).
  public static func decodeToBF16Bits(_ bits: [UInt8], from format: ElementFormat, isa: ISA = .auto) throws(FP8Error) -> [UInt16] {
    try decode16(bits, format: format, to: .bf16, isa: isa)
  }

  static func decode16(_ bits: [UInt8], format: ElementFormat, to dst: ElementFormat, isa: ISA) throws(FP8Error) -> [UInt16] {
    var out = [UInt16](repeating: 0, count: bits.count)
    try bits.withUnsafeBufferPointer { (src) throws(FP8Error) in
      try out.withUnsafeMutableBufferPointer { (d) throws(FP8Error) in
        try CKernels.decode(
          src.baseAddress, srcFormat: format.rawValue, UnsafeMutableRawPointer(d.baseAddress), dstFormat: dst.rawValue,
          count: bits.count, isa: isa.rawValue, threads: 0)
      }
    }
    return out
  }

  /// Decodes FP8 bit patterns to FP32 (exact: every FP8 value is an FP32 value).
  public static func decode(_ bits: [UInt8], from format: ElementFormat, isa: ISA = .auto) throws(FP8Error) -> [Float] {
    var out = [Float](repeating: 0, count: bits.count)
    try bits.withUnsafeBufferPointer { (src) throws(FP8Error) in
      try out.withUnsafeMutableBufferPointer { (dst) throws(FP8Error) in
        try CKernels.decode(
          src.baseAddress, srcFormat: format.rawValue, UnsafeMutableRawPointer(dst.baseAddress),
          dstFormat: ElementFormat.f32.rawValue, count: bits.count, isa: isa.rawValue, threads: 0)
      }
    }
    return out
  }
}
