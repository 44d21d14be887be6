/// How a value that falls between two representable values is rounded.
public enum Rounding: Sendable, Hashable {
  /// Round to nearest, ties to even (IEEE default, `cvt.rn`).
  case nearestEven
  /// Truncate toward zero.
  case towardZero
  /// Stochastic rounding; the random bits of element i are a pure function of (seed, i), so the
  /// result does not depend on thread count or SIMD path.
  case stochastic(seed: UInt64)

  package var cValue: Int32 {
    switch self {
    case .nearestEven: return 0
    case .towardZero: return 1
    case .stochastic: return 2
    }
  }
  package var seed: UInt64 { if case .stochastic(let s) = self { return s } else { return 0 } }
}

/// Overflow and NaN conventions of real implementations. See the README's table.
public enum OverflowPreset: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  /// PTX `cvt.rn.satfinite` and Transformer Engine: overflow saturates to ±max, NaN → 0x7F.
  case cudaSatfinite = "cuda-satfinite"
  /// `cuda_fp8.hpp` with `__NV_NOSAT`.
  case cudaNosat = "cuda-nosat"
  /// ml_dtypes: OCP non-saturating.
  case mlDtypes = "ml-dtypes"
  /// PyTorch CPU casts.
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
