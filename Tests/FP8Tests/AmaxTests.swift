import Testing
import _TestSupport
@testable import FP8

/// The group amaxes the training casts take from the C kernels, against a loop over the groups
/// written here, on every SIMD path: NaN makes its group's amax NaN, infinities count, −0 is 0.
@Suite struct AmaxTests {
  @Test(arguments: ScaleGranularity.allCases)
  func groupAmaxes(_ g: ScaleGranularity) throws {
    var rng = SplitMix64(seed: 17)
    for (rows, cols) in [(1, 1), (3, 300), (130, 70), (257, 129)] {
      var x = (0..<(rows * cols)).map { _ in Float(Int(rng.next() % 20001) - 10000) * 0x1p-7 }
      x[0] = -0.0
      if x.count > 40 { x[rows * cols / 2] = .nan; x[rows * cols - 1] = -.infinity }
      let (groupRows, groupCols) = g.groupShape ?? (g == .perTensor ? (rows, cols) : (1, cols))
      let shape = try g.scaleShape(rows: rows, cols: cols)
      var want = [Float](repeating: 0, count: shape.rows * shape.cols)
      for i in 0..<rows {
        for j in 0..<cols {
          let k = (i / groupRows) * shape.cols + j / groupCols
          want[k] = want[k].isNaN || x[i * cols + j].isNaN ? .nan : max(want[k], abs(x[i * cols + j]))
        }
      }
      for isa in ISA.supported {
        let got = try g.amax(x, rows: rows, cols: cols, isa: isa)
        let same = got.count == want.count && zip(got, want).allSatisfy { $0.isNaN ? $1.isNaN : $0.bitPattern == $1.bitPattern }
        #expect(same, "\(g) \(rows)x\(cols) \(isa)")
      }
    }
  }
}
