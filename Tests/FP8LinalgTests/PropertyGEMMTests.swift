// Property tests of the GEMM engine over random shapes, formats, layouts, scales and epilogues:
// every result within the bound derived in GEMMOracles.swift from the FP64 exact value (and the
// contract's FMA replay bit for bit, see checkAgainstOracles); every ISA and thread count gives
// the same bits; plus the resource limits and the concurrency contract.
import FP8
import FP8Linalg
import Foundation
import Testing
import _TestSupport

@Suite struct PropertyGEMMTests {
  static let operandFormats: [ElementFormat] = [.e4m3, .e5m2, .e4m3fnuz, .e5m2fnuz, .f16, .bf16, .f32]
  static let outputFormats: [ElementFormat] = [.f32, .f16, .bf16, .e4m3, .e5m2]

  /// 60 random cases: shapes 0...70 (K up to 300), any operand pair (E4M3/E5M2 mixed), either
  /// layout, padded leading dimensions, every scaling recipe, random alpha/beta/C/bias/output.
  @Test func randomCasesWithinDerivedBounds() throws {
    var rng = SplitMix64(seed: 0x7E57_0007)
    for trial in 0..<60 {
      let m = Int(rng.next() % 71), n = Int(rng.next() % 71), k = Int(rng.next() % 301)
      let fa = Self.operandFormats[Int(rng.next() % 7)]
      let fb: ElementFormat = fa == .e4m3 && rng.next() % 2 == 0 ? .e5m2 : fa
      let la: MatrixLayout = rng.next() % 2 == 0 ? .rowMajor : .columnMajor
      let lb: MatrixLayout = rng.next() % 2 == 0 ? .rowMajor : .columnMajor
      let a = randomMatrix(rows: m, columns: k, format: fa, layout: la, extraLD: Int(rng.next() % 3), rng: &rng)
      let b = randomMatrix(rows: k, columns: n, format: fb, layout: lb, extraLD: Int(rng.next() % 3), rng: &rng)
      var kind = scalingKinds[Int(rng.next() % 5)]
      if kind == "mxfp8", !(fa.isFP8 && fb.isFP8) { kind = "rowwise" }
      let scaling = randomScaling(kind, m: m, n: n, k: k, rng: &rng)
      let beta: Float = rng.next() % 2 == 0 ? 0 : -0.5
      let c = beta != 0 ? randomMatrix(rows: m, columns: n, format: .bf16, rng: &rng) : nil
      let bias: [Float]? = rng.next() % 2 == 0 ? (0..<n).map { Float($0 % 7) - 3 } : nil
      var out = Self.outputFormats[Int(rng.next() % 5)]
      var epilogue = Epilogue(alpha: 1.25, beta: beta, c: c, bias: bias, outputFormat: out, outputScale: out.isFP8 ? 0.02 : 1)
      // F16 output overflows to Inf (RNE) beyond 65504, which the FP64 bound does not model
      if out == .f16, fp64Reference(a, b, scaling: scaling, epilogue: epilogue).values.contains(where: { abs($0) > 60000 }) {
        out = .bf16
        epilogue = Epilogue(alpha: 1.25, beta: beta, c: c, bias: bias, outputFormat: out)
      }
      let label = "trial \(trial): \(m)×\(n)×\(k) \(fa)×\(fb) \(la)/\(lb) \(kind) → \(out)"
      try checkAgainstOracles(a, b, scaling: scaling, epilogue: epilogue, isa: .scalar, threads: 1, label: label)
      let reference = try matmul(a, b, scaling: scaling, epilogue: epilogue, isa: .scalar, threads: 1)
      for isa in ISA.supported {
        for threads in [1, 2, 3] {
          let r = try matmul(a, b, scaling: scaling, epilogue: epilogue, isa: isa, threads: threads)
          #expect(r.d.storage == reference.d.storage, "\(label): \(isa) threads \(threads) differs from scalar")
          let sameAmax = r.amax.bitPattern == reference.amax.bitPattern || (r.amax.isNaN && reference.amax.isNaN)
          #expect(sameAmax, "\(label): amax")
        }
      }
    }
  }

  /// Regression (bug 1): NaNs of both signs in one dot product gave -NaN on the scalar path and
  /// +NaN on AVX2/AVX-512. Every path now stores the quiet NaN +0x7FC00000.
  @Test func nanResultsHaveOneEncodingOnEveryPath() throws {
    let (m, n, k) = (27, 6, 57)
    let a = try Matrix(rows: m, columns: k, format: .e4m3, bits: (0..<(m * k)).map { UInt8(truncatingIfNeeded: $0) })
    let b = try Matrix(rows: k, columns: n, format: .e4m3, bits: (0..<(k * n)).map { UInt8(truncatingIfNeeded: $0) })
    for isa in ISA.supported {
      let d = try matmul(a, b, isa: isa, threads: 1).d.decoded()
      let nans = d.filter(\.isNaN)
      #expect(!nans.isEmpty)
      let canonical = nans.allSatisfy { $0.bitPattern == 0x7FC0_0000 }
      #expect(canonical, "\(isa): \(nans.map { String($0.bitPattern, radix: 16) })")
    }
  }

  /// Regression (bug 2): an M×0 · 0×N product with M·N beyond Int trapped on the size of D, and
  /// `Matrix.zeros` trapped in its element count. Both now throw before allocating anything.
  @Test func oversizedResultsAreRefusedBeforeAllocation() throws {
    let huge = 1 << 40
    let a = try Matrix(rows: huge, columns: 0, format: .e4m3, storage: [])
    let b = try Matrix(rows: 0, columns: huge, format: .e4m3, layout: .columnMajor, storage: [])
    #expect(throws: FP8Error.self) { try matmul(a, b) }
    do {
      _ = try matmul(a, b)
    } catch {
      guard case .sizeOverflow = error else { Issue.record("expected sizeOverflow, got \(error)"); return }
    }
    // fits in Int but not in memory: 2^20 × 2^20 FP32 = 4 TiB
    let tall = try Matrix(rows: 1 << 20, columns: 0, format: .e4m3, storage: [])
    let wide = try Matrix(rows: 0, columns: 1 << 20, format: .e4m3, layout: .columnMajor, storage: [])
    do {
      _ = try matmul(tall, wide)
      Issue.record("a 4 TiB result was not refused")
    } catch {
      guard case .outOfMemory = error else { Issue.record("expected outOfMemory, got \(error)"); return }
    }
    #expect(throws: FP8Error.self) { try Matrix.zeros(rows: huge, columns: huge, format: .f32) }
    #expect(throws: FP8Error.self) { try Matrix.zeros(rows: Int.max, columns: 2, format: .e4m3) }
    #expect(throws: FP8Error.self) { try Matrix.zeros(rows: 1 << 22, columns: 1 << 22, format: .f32) }
  }
}
