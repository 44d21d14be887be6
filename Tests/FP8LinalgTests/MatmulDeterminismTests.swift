// Same bits on every SIMD path and for 1, 2 and 3 threads, on shapes that cross every blocking
// boundary (MC, KC = 256, NC = 2048, the 128-wide scale blocks) and the skinny-M path.
import FP8
import FP8Linalg
import Testing
import _TestSupport

@Suite struct MatmulDeterminismTests {
  @Test(arguments: scalingKinds)
  func bitIdenticalAcrossISAsAndThreadCounts(kind: String) throws {
    var rng = SplitMix64(seed: 0xD5 &+ UInt64(kind.utf8.first!))
    // (m, n, k, B layout): blocked shapes, skinny ones (M = 1, 4, 5, 16; B row- and column-major),
    // and N beyond NC
    let shapes: [(Int, Int, Int, MatrixLayout)] = [
      (150, 97, 700, .rowMajor), (1, 300, 520, .rowMajor), (4, 129, 1000, .rowMajor),
      (16, 200, 300, .rowMajor), (16, 200, 300, .columnMajor), (1, 260, 130, .columnMajor),
      (5, 131, 300, .columnMajor), (20, 2100, 260, .rowMajor),
    ]
    for (m, n, k, lb) in shapes {
      let a = randomMatrix(rows: m, columns: k, format: .e4m3, rng: &rng)
      let b = randomMatrix(rows: k, columns: n, format: .e5m2, layout: lb, rng: &rng)
      let s = randomScaling(kind, m: m, n: n, k: k, rng: &rng)
      let epilogue = Epilogue(bias: (0..<n).map { Float($0 % 7) - 3 })
      let reference = try matmul(a, b, scaling: s, epilogue: epilogue, isa: .scalar, threads: 1)
      for isa in ISA.supported {
        for threads in [1, 2, 3] {
          let r = try matmul(a, b, scaling: s, epilogue: epilogue, isa: isa, threads: threads)
          #expect(r.d.storage == reference.d.storage, "\(kind) \(m)×\(n)×\(k) \(lb): \(isa) with \(threads) threads")
          #expect(r.amax.bitPattern == reference.amax.bitPattern)
        }
      }
    }
  }

  /// The scalar reference itself against the independent FMA-chain replay on a shape that crosses
  /// KC and the 128-wide scale blocks (the other paths are then equal to it bit for bit).
  @Test func scalarPathMatchesReplayAcrossBlocks() throws {
    var rng = SplitMix64(seed: 99)
    let a = randomMatrix(rows: 9, columns: 600, format: .e5m2, rng: &rng)
    let b = randomMatrix(rows: 600, columns: 140, format: .e4m3, layout: .columnMajor, rng: &rng)
    for kind in scalingKinds {
      try checkAgainstOracles(a, b, scaling: randomScaling(kind, m: 9, n: 140, k: 600, rng: &rng), isa: .scalar,
                              threads: 2, label: "scalar \(kind)")
    }
  }
}
