import Foundation
import Testing
@testable import FP8

/// E8M0 encode: the rules are documented on `Rounding` and in cfp8_convert.h; the oracle here is
/// FP64 math (frexp / log2 on exact powers of two).
@Suite struct E8M0Tests {
  /// Oracle: x > 0 finite. e = floor(log2 x); m = x / 2^e in [1, 2).
  static func oracle(_ x: Double, _ r: Rounding) -> UInt8 {
    if !(x > 0) || !x.isFinite { return 0xFF }
    let e = Int(x.exponent)
    let m = x.significand // [1, 2)
    var k = e
    switch r {
    case .nearestEven: if m >= 1.5 { k += 1 }
    case .up: if m > 1 { k += 1 }
    default: break
    }
    if k + 127 > 254 { return 0xFF }
    if k + 127 < 0 { return 0x00 }
    return UInt8(k + 127)
  }

  @Test func specialCells() {
    for r in [Rounding.nearestEven, .towardZero, .up] {
      for x: Float in [0, -0.0, -1, -.infinity, .infinity, .nan, -.greatestFiniteMagnitude] {
        #expect(CKernels.encodeE8M0Reference(x, rounding: r.cValue) == 0xFF, "\(x) \(r)")
      }
      #expect(CKernels.encodeE8M0Reference(1, rounding: r.cValue) == 127)
      #expect(CKernels.encodeE8M0Reference(0x1p-127, rounding: r.cValue) == 0)   // FP32 subnormal, exact
      #expect(CKernels.encodeE8M0Reference(0x1p127, rounding: r.cValue) == 254)
      #expect(CKernels.encodeE8M0Reference(0x1p-140, rounding: r.cValue) == 0)   // below 2^-127: clamps
    }
    // Ties (m = 1.5) go up under nearest, as ml_dtypes does.
    #expect(CKernels.encodeE8M0Reference(1.5, rounding: 0) == 128)
    #expect(CKernels.encodeE8M0Reference(3, rounding: 0) == 129)
    #expect(CKernels.encodeE8M0Reference(1.4999999, rounding: 0) == 127)
    #expect(CKernels.encodeE8M0Reference(1.0000001, rounding: 3) == 128)
    #expect(CKernels.encodeE8M0Reference(1.9999999, rounding: 1) == 127)
    #expect(CKernels.encodeE8M0Reference(0x1.8p127, rounding: 0) == 0xFF)     // rounds to 2^128
    #expect(CKernels.encodeE8M0Reference(Float.greatestFiniteMagnitude, rounding: 1) == 254)
    #expect(CKernels.encodeE8M0Reference(Float(bitPattern: 0x0050_0000), rounding: 1) == 0x00)
    #expect(CKernels.encodeE8M0Reference(Float(bitPattern: 0x0040_0001), rounding: 3) == 0x01)
  }

  /// Below 2^-126 nearest follows the normal rule, 2^-127·1.f → 0x01 iff f ≥ 0.5. The bytes are
  /// ml_dtypes 0.7.0's (`x.astype(ml_dtypes.float8_e8m0fnu)`, every FP32 subnormal checked by
  /// scripts/oracle_mldtypes.py); 0.6.0 rounded linearly from 0 and gave 0x01 for 0x00400001
  /// and BF16 0x0041.
  @Test func subnormalsAsMlDtypes() throws {
    let f32: [(UInt32, UInt8)] = [(0x0000_0001, 0x00), (0x0030_0000, 0x00), (0x003F_FFFF, 0x00), (0x0040_0000, 0x00),
                                  (0x0040_0001, 0x00), (0x005F_FFFF, 0x00), (0x0060_0000, 0x01), (0x007F_FFFF, 0x01),
                                  (0x00BF_FFFF, 0x01), (0x00C0_0000, 0x02)]
    for isa in ISA.supported {
      let out = try FP8Conversion.encode(f32.map { Float(bitPattern: $0.0) }, to: .e8m0, isa: isa)
      for (i, (u, want)) in f32.enumerated() {
        #expect(out[i] == want, "f32 0x\(String(u, radix: 16)) on \(isa)")
        #expect(Float8E8M0(Float(bitPattern: u)).bitPattern == want)
        #expect(Float8E8M0(Double(Float(bitPattern: u))).bitPattern == want)
      }
    }
    let bf16: [(UInt16, UInt8)] = [(0x0001, 0x00), (0x0040, 0x00), (0x0041, 0x00), (0x005F, 0x00), (0x0060, 0x01),
                                   (0x007F, 0x01), (0x0080, 0x01), (0x00C0, 0x02)]
    for isa in ISA.supported {
      let out = try FP8Conversion.encode(bf16Bits: bf16.map(\.0), to: .e8m0, isa: isa)
      for (i, (u, want)) in bf16.enumerated() { #expect(out[i] == want, "bf16 0x\(String(u, radix: 16)) on \(isa)") }
    }
  }

  @Test func allF16AndBF16AndSampledF32MatchOracle() throws {
    for r in [Rounding.nearestEven, .towardZero, .up] {
      let h = (0..<65536).map { Float16(bitPattern: UInt16($0)) }
      let outH = try FP8Conversion.encode(h, to: .e8m0, rounding: r)
      for (i, x) in h.enumerated() { #expect(outH[i] == Self.oracle(Double(x), r), "f16 \(x) \(r)") }
      let b = (0..<65536).map { UInt16($0) }
      let outB = try FP8Conversion.encode(bf16Bits: b, to: .e8m0, rounding: r)
      for (i, u) in b.enumerated() {
        let x = Double(Float(bitPattern: UInt32(u) << 16))
        #expect(outB[i] == Self.oracle(x, r), "bf16 0x\(String(u, radix: 16)) \(r)")
      }
      let f = (0..<65536).map { Float(bitPattern: UInt32($0) &* 65537 &+ 12345) }
      let outF = try FP8Conversion.encode(f, to: .e8m0, rounding: r)
      for (i, x) in f.enumerated() { #expect(outF[i] == Self.oracle(Double(x), r), "f32 \(x) \(r)") }
    }
  }
}
