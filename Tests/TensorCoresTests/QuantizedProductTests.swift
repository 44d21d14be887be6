import FP8
import Testing
import _TestSupport
@testable import TensorCores

/// D = A·Bᵀ for quantised A (M × K) and B (N × K) with every pairing of scale layouts, on data
/// whose products and sums are exact: small integers and power-of-two scales that differ from
/// group to group in both directions, so that a scale applied to the wrong group shows.
@Suite("Products of quantised tensors")
struct QuantizedProductTests {
  static let (m, n, k) = (20, 130, 256)

  /// An FP8 tensor of small integers and its power-of-two scales, with the values it stands for.
  static func tensor(rows: Int, granularity: ScaleGranularity, seed: UInt64) throws -> (QuantizedTensor, [[Double]]) {
    var rng = SplitMix64(seed: seed)
    let ints = (0..<(rows * k)).map { _ in Float(Int(rng.next() % 5) - 2) }
    let shape = try granularity.scaleShape(rows: rows, cols: k)
    let exponents = (0..<(shape.rows * shape.cols)).map { _ in Int(rng.next() % 7) - 3 }
    let (gr, gc) = granularity.groupShape ?? (granularity == .perTensor ? (rows, k) : (1, k))
    var values = [[Double]](repeating: [Double](repeating: 0, count: k), count: rows)
    for r in 0..<rows {
      for p in 0..<k {
        values[r][p] = Double(ints[r * k + p]) * Double(sign: .plus, exponent: exponents[(r / gr) * shape.cols + p / gc], significand: 1)
      }
    }
    let bits = try FP8Conversion.encode(ints, to: .e4m3)
    let q = granularity == .mxfp8
      ? QuantizedTensor(bits: bits, format: .e4m3, rows: rows, cols: k, granularity: granularity, scales: [],
                        mxScales: exponents.map { UInt8($0 + 127) })
      : QuantizedTensor(bits: bits, format: .e4m3, rows: rows, cols: k, granularity: granularity,
                        scales: exponents.map { Float(sign: .plus, exponent: $0, significand: 1) })
    return (q, values)
  }

  @Test(arguments: [(ScaleGranularity.perTensor, ScaleGranularity.perTensor), (.perChannel, .perChannel), (.tile128, .block128),
                    (.mxfp8, .mxfp8)])
  func scalesMeetTheirGroups(_ ga: ScaleGranularity, _ gb: ScaleGranularity) throws {
    let (qa, a) = try Self.tensor(rows: Self.m, granularity: ga, seed: 1)
    let (qb, b) = try Self.tensor(rows: Self.n, granularity: gb, seed: 2)
    // H100's block FMA aligns a block's products and the running sum to the largest of them before
    // it adds: MX scales, folded into the products, set them up to 2^12 apart, and the alignment
    // drops bits. MX is checked where no term is dropped.
    let gpu: [Numerics] = ga == .mxfp8 ? [] : [.gpu(.h100, accumulation: .promoted(every: 128))]
    for numerics in [Numerics.exact, .ideal] + gpu {
      let d = try TensorCoreGEMM.matmul(qa, transposedB: qb, numerics: numerics, isa: .scalar, threads: 1)
      var wrong = 0
      for i in 0..<Self.m {
        for j in 0..<Self.n {
          let want = (0..<Self.k).reduce(0.0) { $0 + a[i][$1] * b[j][$1] }
          if Double(d[i * Self.n + j]) != want { wrong += 1 }
        }
      }
      #expect(wrong == 0, "\(ga) × \(gb), \(numerics): \(wrong) of \(Self.m * Self.n) differ")
    }
  }

  @Test func unpairedLayoutsAndWrongScaleCountsThrow() throws {
    let (qa, _) = try Self.tensor(rows: Self.m, granularity: .perTensor, seed: 1)
    let (qb, _) = try Self.tensor(rows: Self.n, granularity: .perChannel, seed: 2)
    #expect(throws: FP8Error.self) { _ = try TensorCoreScaling(a: qa, transposedB: qb) }
    var short = qb
    short.scales.removeLast()
    #expect(throws: FP8Error.self) { _ = try TensorCoreScaling(a: qb, transposedB: short) }
  }
}
