import Deployment
import FP8
import Foundation
import Testing
import _TestSupport

@Suite("Calibration")
struct CalibrationTests {
  @Test("empty, zero and NaN samples")
  func degenerate() {
    for m in [CalibrationMethod.max, .percentile(99.99), .entropy] {
      #expect(m.threshold([]) == 0)
      #expect(m.threshold([0, -0, 0]) == 0)
      #expect(m.threshold([.nan, 2, -3, .nan]) <= 3)
    }
    #expect(CalibrationMethod.max.threshold([.nan, 2, -3]) == 3)
    #expect(Int8Quantization.scale(amax: 0) == 1)
  }

  @Test("percentile from the definition: smallest |x| with at least p% of values at or below it")
  func percentile() {
    let x = (1...10000).map { Float($0) * (($0 % 2 == 0) ? 1 : -1) }
    #expect(CalibrationMethod.percentile(100).threshold(x) == 10000)
    #expect(CalibrationMethod.percentile(99.99).threshold(x) == 9999)
    #expect(CalibrationMethod.percentile(50).threshold(x) == 5000)
    #expect(CalibrationMethod.percentile(0).threshold(x) == 1)
  }

  @Test("entropy: uniform data keeps (almost) the whole range; a rare huge outlier is clipped")
  func entropy() {
    var rng = SplitMix64(seed: 5)
    let uniform = (0..<50000).map { _ in Float(rng.next() >> 40) / Float(1 << 24) }
    let tu = CalibrationMethod.entropy.threshold(uniform)
    #expect(tu > 0.9 && tu <= 1)
    // Gaussian body (Box-Muller) plus one outlier 100x larger.
    var g: [Float] = []
    for _ in 0..<25000 {
      let u1 = (Double(rng.next() >> 11) + 1) * 0x1p-53, u2 = Double(rng.next() >> 11) * 0x1p-53
      let r = (-2 * log(u1)).squareRoot()
      g += [Float(r * cos(2 * .pi * u2)), Float(r * sin(2 * .pi * u2))]
    }
    g.append(500)
    let tg = CalibrationMethod.entropy.threshold(g)
    #expect(tg < 50, "threshold \(tg) should clip the outlier")
    #expect(tg > 2, "threshold \(tg) should keep the Gaussian body")
  }

  @Test("KL divergence: zero when the candidate loses nothing")
  func divergence() {
    // 128 non-empty bins (one per level) at i = 128: Q reproduces P exactly.
    var h = [Double](repeating: 0, count: EntropyCalibration.bins)
    for b in 0..<128 { h[b] = Double(b + 1) }
    #expect(abs(EntropyCalibration.divergence(h, bins: 128)) < 1e-12)
    // Folding mass beyond the candidate into its last bin makes P differ from Q.
    h[1000] = 50
    #expect(EntropyCalibration.divergence(h, bins: 128) > 0)
  }
}
