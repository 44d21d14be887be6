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
    if case .nearestEven = r, x < 0x1p-126 { return x > 0x1p-127 ? 0x01 : 0x00 } // ml_dtypes, see cfp8_convert.h
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
    // Below 2^-126 (ml_dtypes): linear between 0 and 2^-126, tie 2^-127 to 0x00.
    #expect(CKernels.encodeE8M0Reference(Float(bitPattern: 0x0040_0001), rounding: 0) == 0x01)
    #expect(CKernels.encodeE8M0Reference(Float(bitPattern: 0x0040_0000), rounding: 0) == 0x00)
    #expect(CKernels.encodeE8M0Reference(Float(bitPattern: 0x0050_0000), rounding: 1) == 0x00)
    #expect(CKernels.encodeE8M0Reference(Float(bitPattern: 0x0040_0001), rounding: 3) == 0x01)
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
