// The ideal matmul engine against a k-order FP32 fused multiply-add loop written in the test, and
// its refusal of numerics it does not compute.
import FP8
import TensorCores
import Testing
@testable import MixedPrecision
import _TestSupport

@Suite struct EngineTests {
  @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
  func idealMatchesKOrderLoop(ta: Bool, tb: Bool) throws {
    var rng = SplitMix64(seed: 3)
    for (m, n, k) in [(5, 7, 9), (37, 45, 70)] {
      let a = (0..<(m * k)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 37 }
      let b = (0..<(k * n)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 53 }
      func at(_ i: Int, _ p: Int) -> Float { a[i * k + p] }
      func bt(_ p: Int, _ j: Int) -> Float { b[p * n + j] }
      // Stored transposed when asked.
      let aStore = ta ? (0..<(k * m)).map { at($0 % m, $0 / m) } : a
      let bStore = tb ? (0..<(n * k)).map { bt($0 % k, $0 / k) } : b
      var expected = [UInt32]()
      for i in 0..<m {
        for j in 0..<n {
          var s: Float = 0
          for p in 0..<k { s = s.addingProduct(at(i, p), bt(p, j)) }
          expected.append(s.bitPattern)
        }
      }
      for isa in ISA.supported {
        for threads in [1, 2, 3] {
          let c = try IdealMatmulEngine(kernels: KernelContext(isa: isa, threads: threads))
            .matmul(Operand(values: aStore, transposed: ta), Operand(values: bStore, transposed: tb), m: m, n: n, k: k, numerics: .ideal)
          #expect(c.map(\.bitPattern) == expected, "\(m)×\(n)×\(k) \(isa) \(threads) threads")
        }
      }
    }
  }

  @Test func quantizedOperandsAreDequantized() throws {
    let a: [Float] = [1, 2, 3, 4]          // 2 × 2
    let b: [Float] = [0.5, 1.5, 2.5, 100]  // k-major B (n × k)
    let (qa, da, _) = try FP8Cast(format: .e4m3, granularity: .perTensor, scale: .fixed(1)).apply(a, rows: 2, cols: 2)
    let (qb, db, _) = try FP8Cast(format: .e4m3, granularity: .perChannel, scale: .current(powerOfTwo: false)).apply(b, rows: 2, cols: 2)
    // Without the cast's dequantised copy: the engine decodes the bits itself.
    let c = try IdealMatmulEngine().matmul(Operand(values: a, transposed: false, quantized: qa),
                                          Operand(values: b, transposed: true, quantized: qb), m: 2, n: 2, k: 2, numerics: .ideal)
    for i in 0..<2 { for j in 0..<2 { #expect(c[i * 2 + j] == (da[i * 2] * db[j * 2]).addingProduct(da[i * 2 + 1], db[j * 2 + 1])) } }
  }

  @Test(arguments: [TrainingGPU.h100Fast, .h100, .b200, .a100])
  func otherNumericsThrow(gpu: TrainingGPU) {
    let numerics = gpu.numerics
    let op = Operand(values: [1], transposed: false)
    #expect(throws: TrainingError.self) { try IdealMatmulEngine().matmul(op, op, m: 1, n: 1, k: 1, numerics: numerics) }
    var o = TrainingOptions()
    o.recipe = .delayed; o.gpu = gpu
    #expect(throws: TrainingError.self) { try Trainer(options: o, task: AdditionTask()) }
  }

  @Test func badShapesThrow() {
    let op = Operand(values: [1, 2, 3], transposed: false)
    #expect(throws: TrainingError.self) { try IdealMatmulEngine().matmul(op, op, m: 2, n: 2, k: 2, numerics: .ideal) }
    #expect(throws: FP8Error.self) {
      try FP8Cast(format: .e4m3, granularity: .perTensor, scale: .current(powerOfTwo: false)).apply([1, 2, 3], rows: 2, cols: 2)
    }
  }
}

/// The tensor-core engine's plumbing (operand layouts, the four scale layouts) on data whose
/// products and sums are exact under any accumulation: it must agree bit for bit with the ideal
/// engine, whatever the GPU model.
@Suite struct TensorCoreEngineTests {
  @Test(arguments: [Recipe.delayed, .rowwise, .blockwise, .mxfp8])
  func exactDataAgreesWithIdeal(recipe: Recipe) throws {
    var rng = SplitMix64(seed: 21)
    let m = 20, n = 130, k = 256
    // Small integers times a power of two that varies by 32-wide group and by row/column, so that
    // group scales differ; every partial sum is a small integer times a common power of two.
    func value(_ r: Int, _ p: Int) -> Float {
      Float(Int(rng.next() % 5) - 2) * Float(sign: .plus, exponent: (r / 7 + p / 32) % 2, significand: 1)
    }
    let aK = (0..<(m * k)).map { value($0 / k, $0 % k) }   // A, m × k
    let bK = (0..<(n * k)).map { value($0 / k, $0 % k) }   // B in k-major form, n × k
    // The recipe's own casts of the forward product's operands, power-of-two scales (delayed: 16).
    var o = TrainingOptions()
    o.recipe = recipe; o.powerOfTwoScales = true
    var r = recipe.implementation.init(options: o, linearNames: ["l"])
    if recipe == .delayed {
      var state = DelayedScaling()
      state.scale = 16
      try r.restore(scalingState: [[state, state, state]])
    }
    func q(_ x: [Float], outer: Int, isA: Bool) throws -> QuantizedTensor {
      guard case .fp8(let cast) = r.cast(at: CastSite(linear: 0, kind: isA ? .activation : .weight, role: .forward)) else {
        throw TrainingError.invalidArgument("\(recipe) does not cast to FP8")
      }
      return try cast.apply(x, rows: outer, cols: k).0
    }
    let opA = Operand(values: aK, transposed: false, quantized: try q(aK, outer: m, isA: true))
    let opB = Operand(values: bK, transposed: true, quantized: try q(bK, outer: n, isA: false))
    let ideal = try IdealMatmulEngine().matmul(opA, opB, m: m, n: n, k: k, numerics: .ideal)
    for numerics in [TrainingGPU.h100.numerics, TrainingGPU.b200.numerics] {
      let tc = try TensorCoreMatmulEngine().matmul(opA, opB, m: m, n: n, k: k, numerics: numerics)
      let same = tc.map(\.bitPattern) == ideal.map(\.bitPattern)
      #expect(same, "\(recipe) on \(numerics)")
    }
  }

  @Test func mixedOperandsNeedIdeal() throws {
    let (qa, _, _) = try FP8Cast(format: .e4m3, granularity: .perTensor, scale: .current(powerOfTwo: false)).apply([1, 2], rows: 1, cols: 2)
    let a = Operand(values: [1, 2], transposed: false, quantized: qa), b = Operand(values: [3, 4], transposed: true)
    #expect(throws: TrainingError.self) {
      try TensorCoreMatmulEngine().matmul(a, b, m: 1, n: 1, k: 2, numerics: TrainingGPU.h100Fast.numerics)
    }
    #expect(try TensorCoreMatmulEngine().matmul(a, b, m: 1, n: 1, k: 2, numerics: .ideal) == [11])
  }
}
