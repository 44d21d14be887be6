import Foundation
import Testing
import _TestSupport
@testable import FP8

/// Every SIMD path against the scalar reference (the C sweep), for every format, rounding and
/// preset: all 2^16 F16 and BF16 inputs, and slices of the 2^32 FP32 patterns that hold every
/// special case (zeros, subnormals, each format's subnormal/normal/overflow boundaries, Inf, NaN,
/// both signs). The full 2^32 FP32 sweep is `fp8emu verify` (run by .ci/run in release); set
/// FP8EMU_FULL_SWEEP=1 to run it here too.
@Suite struct SIMDPathTests {
  static let fp32Slices: [Range<UInt64>] = {
    var r: [Range<UInt64>] = []
    for sign: UInt64 in [0, 0x8000_0000] {
      let w: UInt64 = 0x4_0000 // 2^18 patterns per window
      for start: UInt64 in [
        0,                        // zero and FP32 subnormals
        0x3600_0000,              // around 2^-19 (below every FP8 subnormal)
        0x37C0_0000 - w / 2,      // E5M2FNUZ subnormals
        0x3780_0000 - w / 2,      // E5M2 subnormal boundary
        0x3A80_0000 - w / 2,      // E4M3 subnormal range start
        0x3C00_0000 - w / 2,      // E4M3FNUZ/E4M3 normal boundary
        0x3C80_0000 - w / 2,
        0x3F80_0000,              // 1
        0x4370_0000 - w / 2,      // 240 (E4M3FNUZ max)
        0x4378_0000 - w / 2,      // 248
        0x43E0_0000 - w / 2,      // 448
        0x43E8_0000 - w / 2,      // 464
        0x43F0_0000 - w / 2,      // 480
        0x4760_0000 - w / 2,      // 57344
        0x4770_0000 - w / 2,      // 61440
        0x4780_0000 - w / 2,      // 65536
        0x7F80_0000 - w / 2,      // max float, Inf, NaNs
        0x7FC0_0000 - w / 2,      // quiet NaNs
        0x8000_0000 - w,
      ] {
        r.append(sign + start..<sign + start + w)
      }
    }
    return r
  }()

  func sweep(_ src: ElementFormat, _ range: Range<UInt64>) throws {
    for g in ConversionVerifier.groups(sources: [src], includeE8M0F32: true) {
      let presets: [OverflowPreset] = g.format == .e8m0 ? [.mlDtypes] : OverflowPreset.allCases
      let mask = presets.reduce(UInt32(0)) { $0 | (1 << UInt32($1.cValue)) }
      let paths = ISA.supported
      let r = try CKernels.sweepCompare(
        srcFormat: src.rawValue, dstFormat: g.format.rawValue, rounding: g.rounding.cValue, presetMask: mask,
        isas: paths.map(\.rawValue), range: range, seed: g.rounding.seed, threads: 0)
      for p in presets {
        for (k, isa) in paths.enumerated() {
          let c = r[Int(p.cValue)][k]
          #expect(c.mismatches == 0, "\(src)->\(g.format) \(g.rounding.name) \(p) \(isa): \(c.mismatches) mismatches, first 0x\(String(c.first ?? 0, radix: 16))")
        }
      }
    }
  }

  @Test func allF16Inputs() throws { try sweep(.f16, 0..<(1 << 16)) }
  @Test func allBF16Inputs() throws { try sweep(.bf16, 0..<(1 << 16)) }
  @Test func fp32SpecialSlices() throws { for s in Self.fp32Slices { try sweep(.f32, s) } }

  @Test(.enabled(if: ProcessInfo.processInfo.environment["FP8EMU_FULL_SWEEP"] == "1",
                 "full 2^32 sweep runs in `fp8emu verify`; set FP8EMU_FULL_SWEEP=1 to run it here"))
  func allFP32Inputs() throws { try sweep(.f32, 0..<(1 << 32)) }

  @Test func sameBitsForAnyThreadCountAndPath() throws {
    let n = (1 << 20) * 3 + 77 // above the parallel threshold, odd tail
    var rng = SplitMix64(seed: 99)
    let x = (0..<n).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng) & 0xC7FF_FFFF) }
    for r in [Rounding.nearestEven, .stochastic(seed: 12345)] {
      var outs: [[UInt8]] = []
      for isa in ISA.supported {
        for t in [1, 2, 3] {
          var out = [UInt8](repeating: 0, count: n)
          try x.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { d in
              try FP8Conversion.encode(UnsafeRawPointer(s.baseAddress!), from: .f32, into: d.baseAddress!, format: .e4m3,
                                       count: n, rounding: r, preset: .mlDtypes, isa: isa, threads: t)
            }
          }
          outs.append(out)
        }
      }
      for o in outs.dropFirst() { #expect(o == outs[0]) }
      // Caller-supplied bits equal to the seed's bits give the same result.
      if case .stochastic(let seed) = r {
        let bits = (0..<n).map { CKernels.stochasticBits(seed: seed, index: UInt64($0)) }
        var out = [UInt8](repeating: 0, count: n)
        try x.withUnsafeBufferPointer { s in
          try out.withUnsafeMutableBufferPointer { d in
            try bits.withUnsafeBufferPointer { b in
              try FP8Conversion.encode(UnsafeRawPointer(s.baseAddress!), from: .f32, into: d.baseAddress!, format: .e4m3,
                                       count: n, rounding: .stochastic(seed: 0), preset: .mlDtypes, randomBits: b.baseAddress,
                                       threads: 2)
            }
          }
        }
        #expect(out == outs[0])
      }
    }
  }

  @Test func stochasticRoundingIsUnbiased() throws {
    // 1 + 2^-5 lies a quarter of the way from 1 to 1.125 (E4M3): it must round up ~25% of the time.
    let n = 1 << 16
    let out = try FP8Conversion.encode([Float](repeating: 1 + 0x1p-5, count: n), to: .e4m3, rounding: .stochastic(seed: 5))
    let ups = out.filter { $0 == 0x39 }.count
    #expect(out.allSatisfy { $0 == 0x38 || $0 == 0x39 })
    #expect(abs(Double(ups) / Double(n) - 0.25) < 0.01)
  }

  @Test func decodeEveryByteEveryPath() throws {
    let all = (0...255).map { UInt8($0) }
    let bytes = Array(repeating: all, count: 5).flatMap { $0 } + all.prefix(37) // exercise tails
    for f in ElementFormat.fp8Formats {
      for isa in ISA.supported {
        let y = try FP8Conversion.decode(bytes, from: f, isa: isa)
        let h = try FP8Conversion.decodeToF16Bits(bytes, from: f, isa: isa)
        let b = try FP8Conversion.decodeToBF16Bits(bytes, from: f, isa: isa)
        for (i, v) in bytes.enumerated() {
          let want = CKernels.decodeReference(v, format: f.rawValue)
          #expect(y[i].bitPattern == want.bitPattern, "\(f) \(isa) 0x\(String(v, radix: 16))")
          // Oracle for F16: Swift's own Float -> Float16 conversion (round to nearest even).
          let wantH = want.isNaN ? (want.sign == .minus ? 0xFE00 : 0x7E00) : Float16(want).bitPattern
          #expect(h[i] == wantH, "\(f) \(isa) f16 0x\(String(v, radix: 16))")
          #expect(b[i] == UInt16(want.bitPattern >> 16), "\(f) \(isa) bf16 0x\(String(v, radix: 16))")
        }
      }
    }
  }

  @Test func badArgumentsAreErrors() {
    #expect(throws: FP8Error.self) { try FP8Conversion.encode([Float(1)], to: .f16) }
    #expect(throws: FP8Error.self) { try FP8Conversion.encode([Float(1)], to: .e8m0, rounding: .stochastic(seed: 1)) }
    #expect(throws: FP8Error.self) { try FP8Conversion.encode([Float(1)], to: .e4m3, rounding: .up) }
    #expect(throws: FP8Error.self) { try FP8Conversion.decode([1], from: .f32) }
    #expect(throws: FP8Error.self) {
      try CKernels.encode(nil, srcFormat: 18, nil, dstFormat: 0, count: 4, rounding: 0, preset: 0, seed: 0,
                          randomBits: nil, isa: -1, threads: 0)
    }
    #expect(throws: FP8Error.self) {
      try CKernels.encode(nil, srcFormat: 18, nil, dstFormat: 0, count: 0, rounding: 0, preset: 9, seed: 0,
                          randomBits: nil, isa: -1, threads: 0)
    }
    #expect(throws: FP8Error.self) {
      try CKernels.sweepCompare(srcFormat: 16, dstFormat: 0, rounding: 0, presetMask: 1, isas: [0],
                                range: 0..<(1 << 17), seed: 0, threads: 1)
    }
  }
}
