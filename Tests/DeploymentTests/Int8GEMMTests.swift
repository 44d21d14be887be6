import Deployment
import FP8
import Testing
import _TestSupport

/// Oracle: an Int64 triple loop written from the definition C[i,j] = Σ_k A[i,k]·B[j,k].
func int64Reference(_ a: [Int8], _ b: [Int8], m: Int, n: Int, k: Int) -> [Int64] {
  var c = [Int64](repeating: 0, count: m * n)
  for i in 0..<m {
    for j in 0..<n {
      var s: Int64 = 0
      for p in 0..<k { s += Int64(a[i * k + p]) * Int64(b[j * k + p]) }
      c[i * n + j] = s
    }
  }
  return c
}

@Suite("INT8 GEMM")
struct Int8GEMMTests {
  static let shapes: [(Int, Int, Int)] = [
    (1, 1, 1), (0, 5, 3), (5, 0, 3), (3, 4, 0), (1, 1, 3), (7, 33, 5), (8, 32, 4), (9, 31, 129), (6, 16, 2),
    (65, 257, 3), (17, 70, 300), (13, 300, 77), (64, 256, 64), (2, 3, 1023),
  ]

  @Test("exact against an Int64 reference on edge shapes, every ISA, threads 1, 2, 3")
  func exact() throws {
    var rng = SplitMix64(seed: 0x1A2B)
    for (m, n, k) in Self.shapes {
      let a = (0..<(m * k)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
      let b = (0..<(n * k)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
      let ref = int64Reference(a, b, m: m, n: n, k: k)
      for isa in ISA.supported {
        for threads in 1...3 {
          let c = try Int8GEMM.multiply(a, b, m: m, n: n, k: k, isa: isa, threads: threads)
          #expect(c.map(Int64.init) == ref, "\(m)×\(n)×\(k) on \(isa) with \(threads) threads")
        }
      }
    }
  }

  @Test("extreme operands: -128·-128 over the largest K stays exact")
  func extremes() throws {
    let k = Int8GEMM.maxK
    let a = [Int8](repeating: -128, count: 2 * k), b = [Int8](repeating: -128, count: 3 * k)
    var b2 = b
    for p in 0..<k { b2[2 * k + p] = 127 }  // third column: -128·127
    for isa in ISA.supported {
      let c = try Int8GEMM.multiply(a, b2, m: 2, n: 3, k: k, isa: isa, threads: 2)
      #expect(c.map(Int64.init) == [16384, 16384, -16256, 16384, 16384, -16256].map { Int64($0) * Int64(k) }, "\(isa)")
    }
  }

  @Test("bad arguments are errors")
  func errors() {
    #expect(throws: FP8Error.self) { try Int8GEMM.multiply([], [], m: 1, n: 1, k: Int8GEMM.maxK + 1) }
    #expect(throws: FP8Error.self) { try Int8GEMM.multiply([1, 2], [1], m: 1, n: 1, k: 2) }
    #expect(throws: FP8Error.self) { try Int8GEMM.multiply([], [], m: -1, n: 1, k: 0) }
    #expect(throws: FP8Error.self) { try Int8GEMM.requantize([1], m: 1, n: 1, aScale: .nan, wScales: [1], bias: nil) }
    #expect(throws: FP8Error.self) { try Int8Quantization.quantize([1], rows: 1, cols: 1, scales: [0]) }
    #expect(throws: FP8Error.self) { try Int8Quantization.quantize([1], rows: 1, cols: 1, scales: [.infinity]) }
  }

  @Test("requantisation epilogue: two FP32 roundings, no FMA")
  func requantize() throws {
    var rng = SplitMix64(seed: 9)
    let m = 5, n = 7
    let c = (0..<(m * n)).map { _ in Int32(truncatingIfNeeded: rng.next()) }
    let ws = (0..<n).map { _ in Float(rng.next() % 1000 + 1) / 997 }
    let bias = (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 37 }
    let a: Float = 0.0123
    let out = try Int8GEMM.requantize(c, m: m, n: n, aScale: a, wScales: ws, bias: bias)
    for i in 0..<m {
      for j in 0..<n {
        let s = a * ws[j]
        let t = Float(c[i * n + j]) * s
        #expect(out[i * n + j].bitPattern == (t + bias[j]).bitPattern)
      }
    }
  }

  @Test("INT8 quantisation from the definition: clamp(rne(x/s)), NaN → 0, ±Inf → ±127")
  func quantize() throws {
    var rng = SplitMix64(seed: 3)
    var x = (0..<997).map { _ in Float(Int64(bitPattern: rng.next() % 4_000_000) - 2_000_000) / 7919 }
    x += [.nan, .infinity, -.infinity, 0.5 * 0.02, 1.5 * 0.02, -2.5 * 0.02, 1e30, -0.0]
    let s: Float = 0.02
    let q = try Int8Quantization.quantize(x, rows: 1, cols: x.count, scales: [s])
    for (v, got) in zip(x, q) {
      let want: Int8
      if v.isNaN { want = 0 } else {
        let r = (v / s).rounded(.toNearestOrEven)
        want = Int8(Swift.max(-127, Swift.min(127, r.isFinite ? r : (r > 0 ? 127 : -127))))
      }
      #expect(got == want, "x = \(v)")
    }
    // Per-row scales: amax/127 per row.
    let w: [Float] = [1, -2, 0.5, 0, 0, 0, 3, 0.03, -3]
    let amax = try Int8Quantization.rowAmax(w, rows: 3, cols: 3)
    #expect(amax == [2, 0, 3])
    let scales = amax.map(Int8Quantization.scale(amax:))
    #expect(scales == [2 / 127, 1, 3 / 127])
    let qw = try Int8Quantization.quantize(w, rows: 3, cols: 3, scales: scales)
    #expect(qw == [64, -127, 32, 0, 0, 0, 127, 1, -127])
  }

  @Test("an INT8 linear layer equals the FP64 product of its quantised operands, rounded")
  func linear() throws {
    var rng = SplitMix64(seed: 11)
    let rows = 9, inF = 40, outF = 24
    let x = (0..<(rows * inF)).map { _ in Float(Int(rng.next() % 20001) - 10000) / 3000 }
    let w = (0..<(outF * inF)).map { _ in Float(Int(rng.next() % 20001) - 10000) / 50000 }
    let lw = try Int8Weight(w, outFeatures: outF, inFeatures: inF)
    #expect(lw.bytes == outF * inF + 4 * outF)
    let xs = Int8Quantization.scale(amax: Int8Quantization.amax(x))
    let qx = try Int8Quantization.quantize(x, rows: rows, cols: inF, scales: [xs])
    for isa in ISA.supported {
      let y = try lw.forward(x, rows: rows, xScale: xs, isa: isa, threads: 2)
      for i in 0..<rows {
        for j in 0..<outF {
          var acc = 0.0
          for p in 0..<inF { acc += Double(qx[i * inF + p]) * Double(lw.q[j * inF + p]) }
          let want = Float(acc) * (xs * lw.scales[j])
          #expect(y[i * outF + j].bitPattern == want.bitPattern)
          // And close to the FP64 product of the unquantised values.
          var exact = 0.0
          for p in 0..<inF { exact += Double(x[i * inF + p]) * Double(w[j * inF + p]) }
          // Rounding each operand moves it by at most half a step: |Δ| ≤ Σ |x|·sw/2 + |w|·sx/2 + sx·sw/4.
          let sx = Double(xs), sw = Double(lw.scales[j])
          var bound = 0.0
          for p in 0..<inF { bound += abs(Double(x[i * inF + p])) * sw / 2 + abs(Double(w[j * inF + p])) * sx / 2 + sx * sw / 4 }
          #expect(abs(Double(y[i * outF + j]) - exact) <= bound * 1.0001 + 1e-6)
        }
      }
    }
  }
}
