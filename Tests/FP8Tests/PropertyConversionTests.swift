// Property tests of the conversions and the scaled quantiser over random values, every format,
// preset and ISA, against oracles written from the format definitions (FP64 nearest-value search
// over all 256 encodings), not against the code's own output.
import FP8
import Testing
import _TestSupport

@Suite struct PropertyConversionTests {
  static let fp8: [ElementFormat] = [.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz]

  /// decode then encode (RNE, every preset, every ISA) gives every non-NaN bit pattern back, and a
  /// NaN back as a NaN.
  @Test(arguments: [ElementFormat.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz, .e8m0])
  func decodeThenEncodeIsTheIdentity(format: ElementFormat) throws {
    let all = (0...255).map { UInt8($0) }
    for isa in ISA.supported {
      let values = try FP8Conversion.decode(all, from: format, isa: isa)
      for preset in OverflowPreset.allCases {
        let back = try FP8Conversion.encode(values, to: format, preset: preset, isa: isa)
        for (b, (v, r)) in zip(all, zip(values, back)) {
          if v.isNaN {
            let again = try FP8Conversion.decode([r], from: format)[0]
            #expect(again.isNaN, "\(format) \(isa) \(preset): NaN 0x\(String(b, radix: 16)) came back as a number")
          } else if v.isInfinite && preset == .cudaSatfinite {
            let maxFinite: UInt8 = format == .e4m3 ? 0x7E : 0x7B  // satfinite: Inf → ±max finite
            #expect(r == maxFinite | (b & 0x80), "\(format) \(isa): Inf 0x\(String(b, radix: 16)) → 0x\(String(r, radix: 16))")
          } else {
            #expect(r == b, "\(format) \(isa) \(preset): 0x\(String(b, radix: 16)) → \(v) → 0x\(String(r, radix: 16))")
          }
        }
      }
    }
  }

  /// RNE satfinite encoding of random finite FP32 values is the nearest FP8 value (ties to the
  /// even encoding), found by an FP64 search over all encodings; beyond the largest finite value
  /// it saturates. Same bits on every ISA.
  @Test(arguments: [ElementFormat.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz])
  func encodeIsNearestRepresentable(format: ElementFormat) throws {
    var rng = SplitMix64(seed: 0xF8 &+ UInt64(format.rawValue))
    let table = try FP8Conversion.decode((0...255).map { UInt8($0) }, from: format, isa: .scalar)
    let finite = (0...255).filter { table[$0].isFinite }.map { (UInt8($0), Double(table[$0])) }
    let maxFinite = finite.map { abs($0.1) }.max()!
    var xs: [Float] = []
    for _ in 0..<4000 {
      let e = Int(rng.next() % 50) - 30
      let x = Float(sign: rng.next() % 2 == 0 ? .plus : .minus, exponent: e,
                    significand: 1 + Float(rng.next() % (1 << 23)) / Float(1 << 23))
      xs.append(x)
    }
    xs += finite.map { Float($0.1) }  // exact values, and midpoints between neighbours
    let sorted = finite.map(\.1).sorted()
    for (lo, hi) in zip(sorted, sorted.dropFirst()) where lo != hi { xs.append(Float((lo + hi) / 2)) }
    let reference = try FP8Conversion.encode(xs, to: format, preset: .cudaSatfinite, isa: .scalar)
    for isa in ISA.supported {
      let bits = try FP8Conversion.encode(xs, to: format, preset: .cudaSatfinite, isa: isa)
      #expect(bits == reference, "\(format) \(isa)")
    }
    // FNUZ formats have no saturating preset: |x| at or beyond max + ulp/2 gives the NaN 0x80
    // (documented on OverflowPreset); OCP formats under satfinite clamp to ±max.
    let fnuz = format == .e4m3fnuz || format == .e5m2fnuz
    let belowMax = sorted.last(where: { $0 < maxFinite })!
    let overflowAt = maxFinite + (maxFinite - belowMax) / 2
    for (x, got) in zip(xs, reference) {
      let xd = Double(x)
      if fnuz && abs(xd) >= overflowAt {
        #expect(got == 0x80, "\(format): \(x) beyond the range gave 0x\(String(got, radix: 16)), want the NaN 0x80")
        continue
      }
      let target = min(max(xd, -maxFinite), maxFinite)
      var best: (UInt8, Double)? = nil
      for (b, v) in finite {
        guard let cur = best else { best = (b, v); continue }
        let dv = abs(v - target), dc = abs(cur.1 - target)
        if dv < dc || (dv == dc && v != cur.1 && (b & 1) == 0) { best = (b, v) }
      }
      let gotValue = Double(table[Int(got)])
      #expect(gotValue == best!.1, "\(format): \(x) encoded to \(gotValue), nearest is \(best!.1)")
      if gotValue == 0 && format.hasNegativeZeroForTest { #expect((got & 0x80 != 0) == (x.sign == .minus), "\(x): sign of zero") }
    }
  }

  /// The scaled quantiser never produces a NaN byte from finite input (satfinite), for random
  /// shapes, magnitudes from 2^-140 to 2^127, every granularity, format, MX rule and ISA; its
  /// scales are finite and positive, and the ISAs agree.
  @Test func quantisationOfFiniteInputHasNoNaN() throws {
    var rng = SplitMix64(seed: 0x9A17)
    for trial in 0..<40 {
      let rows = Int(rng.next() % 40) + 1, cols = Int(rng.next() % 300) + 1
      let spread = Int(rng.next() % 260)
      let x: [Float] = (0..<(rows * cols)).map { _ in
        let e = Int(rng.next() % UInt64(spread + 1)) - 140
        let v = Float(sign: rng.next() % 2 == 0 ? .plus : .minus, exponent: min(e, 127), significand: 1 + Float(rng.next() % 1000) / 1000)
        return v.isFinite ? v : .greatestFiniteMagnitude
      }
      for format in [ElementFormat.e4m3, .e5m2] {
        for granularity in [ScaleGranularity.perTensor, .perChannel, .block128, .mxfp8] {
          for rule in [MXScaleRule.ocpFloor, .roundUp] {
            var reference: QuantizedTensor? = nil
            for isa in ISA.supported {
              let q = try Quantizer(format: format, granularity: granularity, mxRule: rule, isa: isa, threads: 2)
                .quantize(x, rows: rows, cols: cols)
              let decoded = try FP8Conversion.decode(q.bits, from: format)
              let hasNaN = decoded.contains { $0.isNaN }
              let scalesOK = q.scales.allSatisfy { $0.isFinite && $0 > 0 }
              #expect(!hasNaN, "trial \(trial) \(format) \(granularity) \(rule) \(isa): NaN from finite input")
              #expect(scalesOK, "trial \(trial): scale not finite and positive")
              if let r = reference { #expect(r == q, "trial \(trial) \(format) \(granularity) \(isa): differs from scalar") }
              else { reference = q }
            }
          }
        }
      }
    }
  }
}

extension ElementFormat {
  /// OCP formats keep the sign of zero; FNUZ formats have no negative zero.
  fileprivate var hasNegativeZeroForTest: Bool { self == .e4m3 || self == .e5m2 }
}
