import Testing
@testable import FP8

/// The overflow/NaN table, cell by cell. The ml-dtypes and pytorch cells are the bytes the real
/// libraries give, measured with ml_dtypes 0.7.0 and torch 2.13.0's CPU casts
/// (`scripts/oracle_mldtypes.py --markdown`, `scripts/oracle_torch.py --markdown`; their sweeps
/// check every input). The CUDA cells come from cuda_fp8.hpp host `__nv_cvt_float_to_fp8` (NaN
/// replaced by the positive canonical NaN, so its sign is dropped; overflow beyond maxnorm + ulp/2
/// gives MAXNORM|s with __NV_SATFINITE, else 0x7F|s / 0x7C|s).
@Suite struct PresetTableTests {
  typealias P = OverflowPreset
  static let e4m3Overflow: [P: (UInt8, UInt8)] = [
    .cudaSatfinite: (0x7E, 0xFE), .cudaNosat: (0x7F, 0xFF), .mlDtypes: (0x7F, 0xFF), .pytorch: (0x7E, 0xFE)]
  static let e4m3NaN: [P: (UInt8, UInt8)] = [
    .cudaSatfinite: (0x7F, 0x7F), .cudaNosat: (0x7F, 0x7F), .mlDtypes: (0x7F, 0xFF), .pytorch: (0x7F, 0xFF)]
  static let e5m2Overflow: [P: (UInt8, UInt8)] = [
    .cudaSatfinite: (0x7B, 0xFB), .cudaNosat: (0x7C, 0xFC), .mlDtypes: (0x7C, 0xFC), .pytorch: (0x7C, 0xFC)]
  static let e5m2NaN: [P: (UInt8, UInt8)] = [
    .cudaSatfinite: (0x7F, 0x7F), .cudaNosat: (0x7F, 0x7F), .mlDtypes: (0x7E, 0xFE), .pytorch: (0x7F, 0xFF)]

  /// Encodes through every path (scalar reference and each SIMD path) and checks they agree; so
  /// do the FP16 and BF16 sources where x has an FP16 / BF16 image (NaN: the quiet NaN, same sign).
  func enc(_ x: Float, _ f: ElementFormat, _ p: P, _ r: Rounding = .nearestEven) throws -> UInt8 {
    let ref = CKernels.encodeReference(x, format: f.rawValue, rounding: r.cValue, preset: p.cValue, random: 0)
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    let h = Float16(x)
    let f16: UInt16? = x.isNaN ? sign | 0x7E00 : Float(h) == x ? h.bitPattern : nil
    let bf16: UInt16? = x.isNaN ? sign | 0x7FC0 : x.bitPattern & 0xFFFF == 0 ? UInt16(x.bitPattern >> 16) : nil
    for isa in ISA.supported {
      let v = try FP8Conversion.encode([x], to: f, rounding: r, preset: p, isa: isa)[0]
      #expect(v == ref, "path \(isa) gave \(v) for \(x) \(f) \(p), reference \(ref)")
      if let f16 {
        let w = try FP8Conversion.encode([Float16(bitPattern: f16)], to: f, rounding: r, preset: p, isa: isa)[0]
        #expect(w == ref, "f16 path \(isa) gave \(w) for \(x) \(f) \(p), reference \(ref)")
      }
      if let bf16 {
        let w = try FP8Conversion.encode(bf16Bits: [bf16], to: f, rounding: r, preset: p, isa: isa)[0]
        #expect(w == ref, "bf16 path \(isa) gave \(w) for \(x) \(f) \(p), reference \(ref)")
      }
    }
    return ref
  }

  @Test(arguments: OverflowPreset.allCases)
  func e4m3Cells(preset: P) throws {
    let (ovfP, ovfN) = Self.e4m3Overflow[preset]!
    for x: Float in [464.0001, 480, 1e6, .greatestFiniteMagnitude, .infinity] {
      #expect(try enc(x, .e4m3, preset) == ovfP, "E4M3 \(x) \(preset)")
      #expect(try enc(-x, .e4m3, preset) == ovfN, "E4M3 -\(x) \(preset)")
    }
    let (nanP, nanN) = Self.e4m3NaN[preset]!
    #expect(try enc(.nan, .e4m3, preset) == nanP)
    #expect(try enc(-.nan, .e4m3, preset) == nanN)
    #expect(try enc(Float(bitPattern: 0x7F80_0001), .e4m3, preset) == nanP) // signalling NaN
    // Common to all presets.
    #expect(try enc(464, .e4m3, preset) == 0x7E)        // tie to even: 448
    #expect(try enc(-464, .e4m3, preset) == 0xFE)
    #expect(try enc(-0.0, .e4m3, preset) == 0x80)
    #expect(try enc(0x1p-10, .e4m3, preset) == 0x00)    // half the least subnormal: tie to even 0
    #expect(try enc(0x1.8p-9, .e4m3, preset) == 0x02)   // 1.5 ulp: tie to even 2
    #expect(try enc(0x1.8p-8, .e4m3, preset) == 0x03)   // 3 * 2^-9 exactly
    #expect(try enc(0x1.4p-9, .e4m3, preset) == 0x01)
  }

  @Test(arguments: OverflowPreset.allCases)
  func e5m2Cells(preset: P) throws {
    let (ovfP, ovfN) = Self.e5m2Overflow[preset]!
    for x: Float in [61440, 65536, 1e9, .infinity] {
      #expect(try enc(x, .e5m2, preset) == ovfP, "E5M2 \(x) \(preset)")
      #expect(try enc(-x, .e5m2, preset) == ovfN, "E5M2 -\(x) \(preset)")
    }
    #expect(try enc(61439.996, .e5m2, preset) == 0x7B)  // below the midpoint
    let (nanP, nanN) = Self.e5m2NaN[preset]!
    #expect(try enc(.nan, .e5m2, preset) == nanP)
    #expect(try enc(-.nan, .e5m2, preset) == nanN)
    #expect(try enc(-0.0, .e5m2, preset) == 0x80)
    #expect(try enc(0x1p-17, .e5m2, preset) == 0x00)    // tie to even 0
    #expect(try enc(0x1.8p-16, .e5m2, preset) == 0x02)
  }

  @Test(arguments: OverflowPreset.allCases)
  func fnuzCells(preset: P) throws {
    for f in [ElementFormat.e4m3fnuz, .e5m2fnuz] {
      for x: Float in [.nan, -.nan, .infinity, -.infinity, 1e30, -1e30] {
        #expect(try enc(x, f, preset) == 0x80, "\(f) \(x)")
      }
      #expect(try enc(-0.0, f, preset) == 0x00)
      #expect(try enc(-1e-30, f, preset) == 0x00) // underflow to zero has no sign either
    }
    // 240 = 0x7F has an odd mantissa, so the midpoint 248 ties to even: 256, an overflow.
    #expect(try enc(248, .e4m3fnuz, preset) == 0x80)
    #expect(try enc(247.99, .e4m3fnuz, preset) == 0x7F)
    #expect(try enc(240, .e4m3fnuz, preset) == 0x7F)
    #expect(try enc(0x1p-10, .e4m3fnuz, preset) == 0x01)
    #expect(try enc(0x1p-17, .e5m2fnuz, preset) == 0x01)
  }

  @Test func towardZeroAndOverflow() throws {
    #expect(try enc(479, .e4m3, .mlDtypes, .towardZero) == 0x7E)
    #expect(try enc(-479, .e4m3, .mlDtypes, .towardZero) == 0xFE)
    // Toward zero never leaves the finite range (IEEE 754 7.4); Inf stays an overflow.
    #expect(try enc(480, .e4m3, .mlDtypes, .towardZero) == 0x7E)
    #expect(try enc(-1e30, .e5m2, .cudaNosat, .towardZero) == 0xFB)
    #expect(try enc(1e30, .e4m3fnuz, .mlDtypes, .towardZero) == 0x7F)
    #expect(try enc(.infinity, .e4m3, .mlDtypes, .towardZero) == 0x7F)
    #expect(try enc(-.infinity, .e5m2, .mlDtypes, .towardZero) == 0xFC)
    #expect(try enc(.infinity, .e5m2, .cudaSatfinite, .towardZero) == 0x7B)
    #expect(try enc(0x1.FFFFFEp-7, .e4m3, .mlDtypes, .towardZero) == 0x07)
  }
}
