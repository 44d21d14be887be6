import Foundation
import Testing
import _TestSupport
@testable import FP8

/// An oracle written from the definition with FP64 arithmetic: the finite values of a format,
/// sorted; round-to-nearest-even and toward-zero by search; stochastic by the exact fraction.
struct FP64Oracle {
  let format: ElementFormat
  let values: [(v: Double, bits: UInt8)]   // non-negative finite values, ascending
  let maxFinite: Double
  let ulpAtMax: Double

  init(_ f: ElementFormat) {
    format = f
    var vals: [(Double, UInt8)] = []
    for b in 0..<128 {
      let v = Double(CKernels.decodeReference(UInt8(b), format: f.rawValue))
      if v.isFinite { vals.append((v, UInt8(b))) }
    }
    vals.sort { $0.0 < $1.0 }
    values = vals
    maxFinite = vals.last!.0
    ulpAtMax = maxFinite - vals[vals.count - 2].0
  }

  /// Index of the largest value <= a (a >= 0 finite).
  func floorIndex(_ a: Double) -> Int {
    var lo = 0, hi = values.count - 1
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if values[mid].v <= a { lo = mid } else { hi = mid - 1 }
    }
    return lo
  }

  /// nil = overflow (the preset decides); otherwise the magnitude encoding.
  func magnitude(_ a: Double, rounding: Rounding, random: UInt32) -> UInt8? {
    let i = floorIndex(a)
    let lower = values[i]
    if lower.v == a { return lower.bits }
    let upperV = i + 1 < values.count ? values[i + 1].v : maxFinite + ulpAtMax
    let upperBits: UInt8? = i + 1 < values.count ? values[i + 1].bits : nil
    switch rounding {
    case .towardZero:
      return lower.bits
    case .nearestEven:
      let dl = a - lower.v, du = upperV - a
      if dl < du { return lower.bits }
      if du < dl { return upperBits }
      // tie: even encoding (for the virtual value above max the next encoding is max+1)
      let upperEnc = upperBits ?? (lower.bits &+ 1)
      return lower.bits & 1 == 0 ? lower.bits : (upperBits == nil ? nil : upperEnc)
    case .stochastic:
      let frac = ((a - lower.v) / (upperV - lower.v) * 4294967296.0).rounded(.down)
      return frac + Double(random) >= 4294967296.0 ? upperBits : lower.bits
    case .up:
      return nil
    }
  }
}

@Suite struct ConversionOracleTests {

  /// Checks the scalar reference against the FP64 oracle for one input (finite, non-zero).
  static func check(_ x: Double, reference: UInt8, oracle o: FP64Oracle, rounding: Rounding, random: UInt32) -> Bool {
    let sign: UInt8 = x < 0 ? 0x80 : 0
    let fnuz = o.format == .e4m3fnuz || o.format == .e5m2fnuz
    guard let m = o.magnitude(abs(x), rounding: rounding, random: random) else {
      // overflow under ml-dtypes: E4M3 NaN|s, E5M2 Inf|s, FNUZ 0x80
      let want: UInt8 = fnuz ? 0x80 : o.format == .e4m3 ? 0x7F | sign : 0x7C | sign
      return reference == want
    }
    if m == 0 { return reference == (fnuz ? 0 : sign) }
    return reference == m | sign
  }

  @Test(arguments: [ElementFormat.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz])
  func f16AndBF16AllInputsMatchOracle(format: ElementFormat) {
    let o = FP64Oracle(format)
    var bad = 0
    for src in [ElementFormat.f16, .bf16] {
      for r in [Rounding.nearestEven, .towardZero, .stochastic(seed: 7)] {
        for u in 0..<65536 {
          let bits = UInt16(u)
          let x: Double = src == .f16 ? Double(Float16(bitPattern: bits)) : Double(Float(bitPattern: UInt32(bits) << 16))
          if !x.isFinite || x == 0 { continue }
          let rnd = r.cValue == 2 ? CKernels.stochasticBits(seed: 7, index: UInt64(u)) : 0
          let ref = src == .f16
            ? CKernels.encodeReference(f16Bits: bits, format: format.rawValue, rounding: r.cValue, preset: 2, random: rnd)
            : CKernels.encodeReference(bf16Bits: bits, format: format.rawValue, rounding: r.cValue, preset: 2, random: rnd)
          if !Self.check(x, reference: ref, oracle: o, rounding: r, random: rnd) {
            bad += 1
            if bad < 5 { Issue.record("\(format) \(src) 0x\(String(u, radix: 16)) \(r) -> \(ref)") }
          }
        }
      }
    }
    #expect(bad == 0)
  }

  @Test(arguments: [ElementFormat.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz])
  func f32SampleMatchesOracle(format: ElementFormat) {
    let o = FP64Oracle(format)
    var rng = SplitMix64(seed: 0xF32 + UInt64(format.rawValue))
    var bad = 0
    // Random patterns concentrated on the format's range, plus midpoints of every pair of values.
    var inputs: [Float] = []
    for _ in 0..<100_000 {
      let e = Int.random(in: -30...20, using: &rng)
      let m = Float(bitPattern: 0x3F80_0000 | UInt32.random(in: 0..<(1 << 23), using: &rng))
      inputs.append((Bool.random(using: &rng) ? -1 : 1) * m * Float(sign: .plus, exponent: e, significand: 1))
    }
    for i in 0..<(o.values.count - 1) {
      let mid = Float((o.values[i].v + o.values[i + 1].v) / 2)
      inputs += [mid, mid.nextUp, mid.nextDown, -mid]
    }
    for (k, x) in inputs.enumerated() where x.isFinite && x != 0 {
      for r in [Rounding.nearestEven, .towardZero, .stochastic(seed: 3)] {
        let rnd = r.cValue == 2 ? CKernels.stochasticBits(seed: 3, index: UInt64(k)) : 0
        let ref = CKernels.encodeReference(x, format: format.rawValue, rounding: r.cValue, preset: 2, random: rnd)
        if !Self.check(Double(x), reference: ref, oracle: o, rounding: r, random: rnd) {
          bad += 1
          if bad < 5 { Issue.record("\(format) \(x) \(r) -> \(ref) want \(String(describing: o.magnitude(abs(Double(x)), rounding: r, random: rnd)))") }
        }
      }
    }
    #expect(bad == 0)
  }

  @Test func doubleRoundsOnce() {
    // 1 + 2^-4 + 2^-30: just above the E4M3 midpoint between 1 and 1.125. As a Float it becomes
    // the midpoint itself (tie to even: 1.0); from the Double directly it must round up.
    let x = 1 + 0x1p-4 + 0x1p-30
    #expect(Float8E4M3(x).bitPattern == 0x39)
    #expect(Float8E4M3(Float(x)).bitPattern == 0x38)
    let o = FP64Oracle(.e5m2)
    var rng = SplitMix64(seed: 64)
    for _ in 0..<20000 {
      let d = Double(bitPattern: 0x3F00_0000_0000_0000 | UInt64.random(in: 0..<(1 << 60), using: &rng))
      if !d.isFinite || d == 0 || d > 1e6 { continue }
      let ref = Float8E5M2(d, preset: .mlDtypes).bitPattern
      #expect(Self.check(d, reference: ref, oracle: o, rounding: .nearestEven, random: 0), "\(d)")
    }
  }
}
