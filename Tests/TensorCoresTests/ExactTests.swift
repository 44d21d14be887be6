import FP8
import TensorCores
import Testing
import _TestSupport

// `.exact` on E4M3 runs in FP64 lanes when no FP64 addition can round (K ≤ 2^16, accumulator on
// the 2^-18 grid): checked against an integer oracle (every E4M3 value is m·2^-9, so the exact
// sum is an Int64 count of 2^-18, rounded once to FP32) and against the scalar reference's bits
// on every ISA and thread count, including accumulators off the grid (scalar fallback).
@Suite("Exact reference in FP64 lanes")
struct ExactTests {
  @Test("E4M3 exact sums: integer oracle and identical bits on every ISA and thread count")
  func e4m3AgainstIntegerOracle() throws {
    var rng = SplitMix64(seed: 4242)
    for trial in 0..<6 {
      let m = 1 + Int(rng.next() % 9), n = 1 + Int(rng.next() % 37), k = 1 + Int(rng.next() % (trial == 5 ? 5000 : 400))
      let ab = MXTests.bytes(m * k, &rng, .e4m3), bb = MXTests.bytes(k * n, &rng, .e4m3)
      let a = try TensorCoreOperand(storage: .bytes(ab), format: .e4m3, rows: m, cols: k)
      let b = try TensorCoreOperand(storage: .bytes(bb), format: .e4m3, rows: k, cols: n)
      // on the grid (multiples of 2^-18, some -0), then one value off it (2^-30: scalar fallback)
      var onGrid = (0..<(m * n)).map { _ in Float(Int(rng.next() % 4001) - 2000) * 0x1p-12 }
      onGrid[0] = -0.0
      var offGrid = onGrid
      offGrid[offGrid.count - 1] = 0x1p-30
      let av = ab.map { TensorCoreInputDecode.e4m3($0) }, bv = bb.map { TensorCoreInputDecode.e4m3($0) }
      for acc in [nil, onGrid, offGrid] {
        let reference = try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: .exact, isa: .scalar, threads: 1)
        if acc != offGrid {
          for i in 0..<m {
            for j in 0..<n {
              var units: Int64 = 0  // the exact sum in units of 2^-18
              for t in 0..<k { units += Int64(av[i * k + t] * 512) * Int64(bv[t * n + j] * 512) }
              let exact = Double(units) * 0x1p-18 + Double(acc?[i * n + j] ?? 0)  // exact: below 2^35
              #expect(reference[i * n + j].bitPattern == Float(exact).bitPattern, "\(i),\(j)")
            }
          }
        }
        for isa in ISA.supported {
          for threads in [1, 2, 3] {
            let d = try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: .exact, isa: isa, threads: threads)
            let bad = zip(d, reference).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(bad == 0, "\(m)x\(n)x\(k) \(isa) threads \(threads): \(bad) differ")
          }
        }
      }
    }
  }
}

/// E4M3 decoding written from the format (1-4-3, bias 7, no Inf, 0x7F/0xFF NaN).
enum TensorCoreInputDecode {
  static func e4m3(_ x: UInt8) -> Float {
    let s: Float = x & 0x80 != 0 ? -1 : 1, e = Int((x >> 3) & 0xF), f = Float(x & 7)
    if e == 0xF && x & 7 == 7 { return .nan }
    return e == 0 ? s * f * 0x1p-9 : s * (1 + f / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
  }
}
