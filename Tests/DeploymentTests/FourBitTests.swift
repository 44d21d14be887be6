import Deployment
import FP8
import Foundation
import Testing
import _TestSupport

// Oracles written from the format definitions.

/// E2M1 (OCP MX v1.0): 1 sign, 2 exponent (bias 1), 1 mantissa bit; subnormal 0.5; max 6. Nearest
/// value, ties to the code whose mantissa bit is 0, saturating.
func e2m1Reference(_ x: Float) -> UInt8 {
  if x.isNaN { return 0 }
  let values: [Double] = (0..<8).map { c in
    let e = c >> 1, m = c & 1
    return e == 0 ? Double(m) * 0.5 : (1 + Double(m) / 2) * pow(2, Double(e - 1))
  }
  let a = Swift.min(Double(abs(x)), 6)
  var best = 0
  for c in 1..<8 {
    let d = abs(values[c] - a), bd = abs(values[best] - a)
    if d < bd || (d == bd && c & 1 == 0) { best = c }
  }
  return (x.sign == .minus ? 8 : 0) | UInt8(best)
}

/// Positive E4M3 (OCP e4m3fn) values by code 0…126, from the definition (bias 7).
let e4m3Values: [Double] = (0..<127).map { c in
  let e = c >> 3, m = c & 7
  return e == 0 ? Double(m) / 8 * pow(2, -6) : (1 + Double(m) / 8) * pow(2, Double(e - 7))
}

/// Nearest positive E4M3 code, ties to even, saturating at 448.
func e4m3Reference(_ x: Float) -> UInt8 {
  let a = Swift.min(Double(x), 448)
  var best = 0
  for c in 1..<127 {
    let d = abs(e4m3Values[c] - a), bd = abs(e4m3Values[best] - a)
    if d < bd || (d == bd && c & 1 == 0) { best = c }
  }
  return UInt8(best)
}

func nibble(_ packed: [UInt8], row: Int, cols: Int, _ j: Int) -> UInt8 {
  let b = packed[row * ((cols + 1) / 2) + j / 2]
  return j % 2 == 0 ? b & 0x0F : b >> 4
}

func sample(_ rows: Int, _ cols: Int, seed: UInt64) -> [Float] {
  var rng = SplitMix64(seed: seed)
  return (0..<(rows * cols)).map { i in
    let u = Float(rng.next() >> 40) / Float(1 << 24) - 0.5
    return i % 97 == 5 ? u * 40 : u * (i % 3 == 0 ? 0.01 : 1)  // outliers and small groups
  }
}

@Suite("4-bit formats")
struct FourBitTests {
  @Test("E2M1 encoding against the definition: every midpoint, both signs, saturation")
  func e2m1() {
    var xs: [Float] = [0, -0, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 6, 6.5, 100, .infinity, .nan, 1e-30]
    for i in 0...700 { xs.append(Float(i) / 100) }
    xs += xs.map { -$0 }
    for x in xs {
      #expect(e2m1Encode(x) == e2m1Reference(x), "x = \(x)")
    }
    #expect((0..<16).map { e2m1Decode(UInt8($0)) } == [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6])
  }

  @Test("INT4 group 128: scales amax/7 (FP32 and FP16), codes, packing, dequantisation", arguments: [false, true])
  func int4(fp16: Bool) throws {
    let rows = 3, cols = 301  // odd, 3 groups per row, the last one short
    let x = sample(rows, cols, seed: 1)
    let t = try FourBitTensor(x, rows: rows, cols: cols, format: .int4, fp16Scales: fp16)
    let d = try t.dequantized()
    let gpr = 3
    #expect(t.packed.count == rows * 151)
    #expect(t.scaleBytes.count == rows * gpr * (fp16 ? 2 : 4))
    for r in 0..<rows {
      for g in 0..<gpr {
        let lo = g * 128, hi = Swift.min(lo + 128, cols)
        let amax = x[(r * cols + lo)..<(r * cols + hi)].map(abs).max()!
        var s = amax / 7
        if fp16 { s = Float(Float16(s)) }
        let stored: Float = t.scaleBytes.withUnsafeBytes { p in
          fp16 ? Float(Float16(bitPattern: p.load(fromByteOffset: 2 * (r * gpr + g), as: UInt16.self)))
            : p.load(fromByteOffset: 4 * (r * gpr + g), as: Float.self)
        }
        #expect(stored == s)
        for j in lo..<hi {
          let q = Int(Swift.max(-7, Swift.min(7, (x[r * cols + j] / s).rounded(.toNearestOrEven))))
          let code = nibble(t.packed, row: r, cols: cols, j)
          #expect(Int(code) == q & 0x0F)
          #expect(d[r * cols + j] == Float(q) * s)
          #expect(abs(d[r * cols + j] - x[r * cols + j]) <= s / 2 * 1.0001)
        }
      }
      #expect(nibble(t.packed, row: r, cols: cols, cols) == 0, "padding nibble of an odd row")
    }
  }

  @Test("MXFP4: E8M0 scale 2^(floor(log2 amax) - 2), E2M1 codes, dequantisation")
  func mxfp4() throws {
    let rows = 4, cols = 70
    var x = sample(rows, cols, seed: 2)
    for j in 32..<64 { x[cols + j] = 0 }  // an all-zero group
    let t = try FourBitTensor(x, rows: rows, cols: cols, format: .mxfp4)
    let d = try t.dequantized()
    let gpr = 3
    for r in 0..<rows {
      for g in 0..<gpr {
        let lo = g * 32, hi = Swift.min(lo + 32, cols)
        let amax = x[(r * cols + lo)..<(r * cols + hi)].map(abs).max()!
        let e = amax == 0 ? -127 : Int(amax.exponent) - 2
        #expect(Int(t.scaleBytes[r * gpr + g]) == e + 127)
        for j in lo..<hi {
          let code = e2m1Reference(Float(Double(x[r * cols + j]) / pow(2, Double(e))))
          #expect(nibble(t.packed, row: r, cols: cols, j) == code)
          #expect(Double(d[r * cols + j]) == Double(e2m1Decode(code)) * pow(2, Double(e)))
        }
      }
    }
  }

  @Test("NVFP4: global 448·6/amax, E4M3 block scale per 16, E2M1 codes, dequantisation")
  func nvfp4() throws {
    let rows = 5, cols = 47
    let x = sample(rows, cols, seed: 3)
    let t = try FourBitTensor(x, rows: rows, cols: cols, format: .nvfp4)
    let d = try t.dequantized()
    let tamax = x.map(abs).max()!
    let g = (448 * 6) / tamax
    #expect(t.tensorScale == 1 / g)
    #expect(t.bytes == rows * 24 + rows * 3 + 4)
    let gpr = 3
    for r in 0..<rows {
      for gi in 0..<gpr {
        let lo = gi * 16, hi = Swift.min(lo + 16, cols)
        let amax = x[(r * cols + lo)..<(r * cols + hi)].map(abs).max()!
        let sb = e4m3Reference(amax / 6 * g)
        #expect(t.scaleBytes[r * gpr + gi] == sb)
        let sd = Float(e4m3Values[Int(sb)])
        for j in lo..<hi {
          let code: UInt8 = sd > 0 ? e2m1Reference(x[r * cols + j] * g / sd) : 0
          #expect(nibble(t.packed, row: r, cols: cols, j) == code)
          #expect(d[r * cols + j] == e2m1Decode(code) * sd * (1 / g))
        }
      }
    }
    // Relative error per block is bounded by E2M1's half spacing at the block's top (1/6 of amax)
    // plus E4M3's scale rounding (2^-4): |x - deq| <= amax_block · (1/6 + 1/16)·(1 + 1/16).
    for r in 0..<rows {
      for gi in 0..<gpr {
        let lo = gi * 16, hi = Swift.min(lo + 16, cols)
        let amax = x[(r * cols + lo)..<(r * cols + hi)].map(abs).max()!
        for j in lo..<hi { #expect(abs(d[r * cols + j] - x[r * cols + j]) <= amax * (1.0 / 6 + 1.0 / 16) * (1 + 1.0 / 16)) }
      }
    }
  }

  @Test("edge cases: empty, all zero, non-finite input")
  func edges() throws {
    let e = try FourBitTensor([], rows: 0, cols: 5, format: .nvfp4)
    #expect(e.bytes == 4 && e.tensorScale == 1)
    for f in FourBitFormat.allCases {
      let z = try FourBitTensor([Float](repeating: 0, count: 40), rows: 2, cols: 20, format: f)
      #expect(try z.dequantized() == [Float](repeating: 0, count: 40))
      #expect(throws: FP8Error.self) { try FourBitTensor([1, .nan], rows: 1, cols: 2, format: f) }
      #expect(throws: FP8Error.self) { try FourBitTensor([1, 2, 3], rows: 1, cols: 2, format: f) }
    }
  }
}
