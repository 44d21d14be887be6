import FP8
import Foundation
import Testing
import _TestSupport

/// The scaled quantiser against a reference written from the definitions in this file: FP8
/// values from the bit layout (Double math), nearest-even choice by exhaustive search over all
/// codes, BF16 rounding by comparing the two neighbours.
@Suite struct QuantizationTests {
  /// Value of an OCP E4M3 / E5M2 code from the format definition.
  static func fp8Value(_ b: UInt8, _ f: ElementFormat) -> Double {
    let (eb, mb, bias) = f == .e4m3 ? (4, 3, 7) : (5, 2, 15)
    let s: Double = b & 0x80 != 0 ? -1 : 1
    let e = Int(b >> UInt8(mb)) & ((1 << eb) - 1)
    let m = Int(b) & ((1 << mb) - 1)
    let nan: Double = s < 0 ? -.nan : .nan  // a NaN code keeps its sign bit
    if f == .e4m3, e == 15, m == 7 { return nan }
    if f == .e5m2, e == 31 { return m == 0 ? s * .infinity : nan }
    if e == 0 { return s * Double(m) * pow(2, Double(1 - bias - mb)) }
    return s * (1 + Double(m) / Double(1 << mb)) * pow(2, Double(e - bias))
  }

  /// satfinite RNE: the nearest finite code, ties to the even code, beyond ±max clamped.
  static func encodeReference(_ x: Float, _ f: ElementFormat) -> UInt8 {
    let v = Double(x)
    var best: UInt8 = 0
    var bestDist = Double.infinity
    for c in 0...255 {
      let b = UInt8(c)
      let y = fp8Value(b, f)
      guard y.isFinite, !(y == 0 && b == 0x80) else { continue }
      let d = abs(y - v)
      if d < bestDist || (d == bestDist && b & 1 == 0) {
        best = b
        bestDist = d
      }
    }
    if best == 0, x.sign == .minus { return 0x80 }  // negative values that round to zero give -0
    return best
  }

  static func bf16Reference(_ x: Float) -> UInt16 {
    if x.isNaN { return (x.sign == .minus ? 0x8000 : 0) | 0x7FC0 }
    if x.isInfinite { return UInt16(x.bitPattern >> 16) }
    let lo = x.bitPattern & 0xFFFF_0000
    let hi = lo + 0x1_0000
    let dl = abs(Double(x) - Double(Float(bitPattern: lo)))
    let dh = abs(Double(x) - Double(Float(bitPattern: hi)))
    if dl < dh || (dl == dh && (lo >> 16) & 1 == 0) { return UInt16(lo >> 16) }
    return UInt16(truncatingIfNeeded: hi >> 16)
  }

  static func data(rows: Int, cols: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<(rows * cols)).map { k in
      let mag = Float(Int.random(in: -12...6, using: &rng))
      var v = Float.random(in: -1...1, using: &rng) * Float(pow(2.0, Double(mag)))
      if k % 97 == 0 { v = 0 }
      return v
    }
  }

  static func groupScale(_ q: QuantizedTensor, _ i: Int, _ j: Int) -> Float {
    switch q.granularity {
    case .perTensor: return q.scales[0]
    case .perChannel: return q.scales[i]
    case .tile128: return q.scales[i * ((q.cols + 127) / 128) + j / 128]
    case .block128: return q.scales[(i / 128) * ((q.cols + 127) / 128) + j / 128]
    case .mxfp8: return Float(pow(2.0, Double(Int(q.mxScales[i * ((q.cols + 31) / 32) + j / 32]) - 127)))
    }
  }

  @Test(arguments: ScaleGranularity.allCases, [ElementFormat.e4m3, .e5m2])
  func matchesTheReference(_ g: ScaleGranularity, _ f: ElementFormat) throws {
    for (rows, cols) in [(130, 70), (3, 300)] { try matchesTheReference(g, f, rows: rows, cols: cols) }
  }

  func matchesTheReference(_ g: ScaleGranularity, _ f: ElementFormat, rows: Int, cols: Int) throws {
    let x = Self.data(rows: rows, cols: cols, seed: 7)
    let q = try Quantizer(format: f, granularity: g, isa: .scalar).quantize(x, rows: rows, cols: cols)
    let maxf: Float = f == .e4m3 ? 448 : 57344
    // scales from the definition
    let shape = try g.scaleShape(rows: rows, cols: cols)
    var amax = [Float](repeating: 0, count: shape.rows * shape.cols)
    for i in 0..<rows {
      for j in 0..<cols {
        let k: Int
        switch g {
        case .perTensor: k = 0
        case .perChannel: k = i
        case .tile128: k = i * shape.cols + j / 128
        case .block128: k = (i / 128) * shape.cols + j / 128
        case .mxfp8: k = i * shape.cols + j / 32
        }
        amax[k] = max(amax[k], abs(x[i * cols + j]))
      }
    }
    if g == .mxfp8 {
      let emax = f == .e4m3 ? 8 : 15
      let expected = amax.map { a -> UInt8 in a == 0 ? 127 : UInt8(Int(floor(log2(Double(a)))) - emax + 127) }
      #expect(q.mxScales == expected)
    } else {
      #expect(q.scales == amax.map { $0 == 0 ? 1 : $0 / maxf })
    }
    var bad = 0
    var deqBad = 0
    let deq = try q.dequantize(isa: .scalar)
    let deqBF16 = try q.dequantizeBF16(isa: .scalar)
    for i in 0..<rows {
      for j in 0..<cols {
        let s = Self.groupScale(q, i, j)
        let k = i * cols + j
        if q.bits[k] != Self.encodeReference(x[k] / s, f) { bad += 1 }
        let value = Float(Self.fp8Value(q.bits[k], f)) * s
        if deq[k].bitPattern != value.bitPattern || deqBF16[k] != Self.bf16Reference(value) { deqBad += 1 }
      }
    }
    #expect(bad == 0, "\(bad) codes differ from the reference")
    #expect(deqBad == 0, "\(deqBad) dequantised values differ from the reference")
  }

  /// 300x333 takes the generic SIMD paths, 20x1100 the per-scale table path of per-channel.
  @Test(arguments: [(300, 333), (20, 1100)])
  func everyPathAndThreadCountGivesTheSameBits(_ rows: Int, _ cols: Int) throws {
    let x = Self.data(rows: rows, cols: cols, seed: 11)
    let bf16: [UInt16] = x.map { UInt16($0.bitPattern >> 16) }
    let f16: [UInt16] = x.map { Float16($0).bitPattern }
    for g in ScaleGranularity.allCases {
      for f in [ElementFormat.e4m3, .e5m2] {
        for (src, fmt) in [(x.withUnsafeBytes { Array($0) }, ElementFormat.f32), (bf16.withUnsafeBytes { Array($0) }, .bf16), (f16.withUnsafeBytes { Array($0) }, .f16)] {
          let ref = try src.withUnsafeBytes {
            try Quantizer(format: f, granularity: g, mxRule: .roundUp, isa: .scalar, threads: 1).quantize(raw: $0, sourceFormat: fmt, rows: rows, cols: cols)
          }
          let refOut = try ref.dequantize(isa: .scalar, threads: 1)
          let refBF16 = try ref.dequantizeBF16(isa: .scalar, threads: 1)
          for isa in ISA.supported {
            for threads in [1, 2, 3] {
              let q = try src.withUnsafeBytes {
                try Quantizer(format: f, granularity: g, mxRule: .roundUp, isa: isa, threads: threads).quantize(raw: $0, sourceFormat: fmt, rows: rows, cols: cols)
              }
              #expect(q == ref, "\(g) \(f) \(fmt) \(isa) threads \(threads)")
              #expect(try q.dequantize(isa: isa, threads: threads).map(\.bitPattern) == refOut.map(\.bitPattern))
              #expect(try q.dequantizeBF16(isa: isa, threads: threads) == refBF16)
            }
          }
        }
      }
    }
  }

  /// Dequantisation of every code (NaN, ±Inf, subnormals) on every path against the reference.
  @Test func dequantisesEveryCode() throws {
    for f in [ElementFormat.e4m3, .e5m2] {
      let bits = (0..<(256 * 3)).map { UInt8($0 % 256) }
      let q = QuantizedTensor(bits: bits, format: f, rows: 3, cols: 256, granularity: .perChannel, scales: [1, 0x1p-20, 3.0e30])
      for isa in ISA.supported {
        let out = try q.dequantizeBF16(isa: isa)
        for k in 0..<bits.count {
          let v = Float(Self.fp8Value(bits[k], f)) * q.scales[k / 256]
          #expect(out[k] == Self.bf16Reference(v), "\(f) \(isa) code \(bits[k])")
        }
      }
    }
  }

  @Test func mxScaleRules() throws {
    // block amax 1000: OCP floor(log2 1000) - 8 = 1; round-up ceil(log2(1000/448)) = 2
    // block amax 300: both 0; an all-zero block: 2^0
    var x = [Float](repeating: 0, count: 96)
    x[3] = -1000
    x[40] = 300
    let ocp = try Quantizer(granularity: .mxfp8, mxRule: .ocpFloor).quantize(x, rows: 1, cols: 96)
    let te = try Quantizer(granularity: .mxfp8, mxRule: .roundUp).quantize(x, rows: 1, cols: 96)
    #expect(ocp.mxScales == [128, 127, 127])
    #expect(te.mxScales == [129, 127, 127])
    #expect(ocp.bits[3] == 0xFE)  // -1000/2 = -500 saturates to -448
    #expect(Self.fp8Value(te.bits[3], .e4m3) == -256)  // -1000/4 = -250 rounds to -256
  }

  @Test func divisionNotReciprocal() throws {
    // amax 448·3 gives s = 3; 1/3 in FP32 times x differs from x/3 for some x: the quantiser divides
    var x: [Float] = (1...2000).map { Float($0) * 0.6711 }
    x.append(1344)
    let q = try Quantizer(granularity: .perTensor, isa: .scalar).quantize(x, rows: 1, cols: x.count)
    #expect(q.scales == [3])
    for (k, v) in x.enumerated() { #expect(q.bits[k] == Self.encodeReference(v / 3, .e4m3)) }
  }

  @Test func misalignedSourceGivesTheSameResult() throws {
    let x = Self.data(rows: 3, cols: 50, seed: 5)
    let bytes = [UInt8](repeating: 0, count: 1) + x.withUnsafeBytes { Array($0) }
    let q = try Quantizer(granularity: .perChannel).quantize(x, rows: 3, cols: 50)
    let m = try bytes.withUnsafeBytes {
      try Quantizer(granularity: .perChannel).quantize(raw: UnsafeRawBufferPointer(rebasing: $0[1...]), sourceFormat: .f32, rows: 3, cols: 50)
    }
    #expect(m == q)
  }

  @Test func errors() {
    #expect(throws: FP8Error.self) { _ = try Quantizer(granularity: .perTensor).quantize([1, .nan], rows: 1, cols: 2) }
    #expect(throws: FP8Error.self) { _ = try Quantizer(granularity: .block128).quantize([1, .infinity], rows: 2, cols: 1) }
    #expect(throws: FP8Error.self) { _ = try Quantizer(granularity: .perTensor).quantize([1, 2, 3], rows: 2, cols: 2) }
    #expect(throws: FP8Error.self) { _ = try Quantizer(format: .e4m3fnuz, granularity: .perTensor).quantize([1], rows: 1, cols: 1) }
    let q = QuantizedTensor(bits: [1, 2], format: .e4m3, rows: 1, cols: 2, granularity: .perTensor, scales: [.nan])
    #expect(throws: FP8Error.self) { _ = try q.dequantize() }
    let wrong = QuantizedTensor(bits: [1, 2], format: .e4m3, rows: 1, cols: 2, granularity: .perChannel, scales: [])
    #expect(throws: FP8Error.self) { _ = try wrong.dequantize() }
  }
}
