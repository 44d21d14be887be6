import Foundation

/// How a per-tensor activation scale is chosen from calibration data (INT8, symmetric):
/// the clipping threshold T gives the scale `T / 127`.
///
/// | method | threshold |
/// |---|---|
/// | `max` | max |x| over the calibration data |
/// | `percentile(p)` | the p-th percentile of |x| (e.g. 99.99): the smallest |x| with at least p% of the values ≤ it |
/// | `entropy` | TensorRT-style: a 2048-bin histogram of |x| over [0, max]; for every candidate of i = 128…2048 bins, the reference P (bins 0..<i, with the mass beyond folded into bin i−1) is compared by KL divergence with Q (the i bins merged into 128 levels and spread back evenly over the bins where P is non-empty; both smoothed); T = (i + 0.5) · bin width of the best i |
public enum CalibrationMethod: Sendable, Hashable, CustomStringConvertible {
  case max
  case percentile(Double)
  case entropy

  public var description: String {
    switch self {
    case .max: "max"
    case .percentile(let p): "percentile \(p)"
    case .entropy: "entropy"
    }
  }

  /// The clipping threshold for these absolute values (0 for an empty or all-zero sample; NaN is ignored).
  public func threshold(_ values: [Float]) -> Float {
    let a = values.lazy.map { abs($0) }.filter { !$0.isNaN }
    switch self {
    case .max:
      return a.max() ?? 0
    case .percentile(let p):
      let s = a.sorted()
      guard !s.isEmpty else { return 0 }
      let q = Swift.min(Swift.max(p, 0), 100) / 100
      let idx = Swift.max(Int((q * Double(s.count)).rounded(.up)) - 1, 0)
      return s[Swift.min(idx, s.count - 1)]
    case .entropy:
      return EntropyCalibration.threshold(Array(a))
    }
  }
}

/// KL-divergence calibration (written from the description of TensorRT's INT8 entropy calibrator).
public enum EntropyCalibration {
  public static let bins = 2048
  public static let levels = 128

  /// Histogram of |x| with `bins` bins over [0, amax] (values equal to amax in the last bin).
  public static func histogram(_ absValues: [Float], amax: Float) -> [Double] {
    var h = [Double](repeating: 0, count: bins)
    guard amax > 0 else { return h }
    let w = Double(amax) / Double(bins)
    for v in absValues where v.isFinite {
      h[Swift.min(Int(Double(v) / w), bins - 1)] += 1
    }
    return h
  }

  /// KL(P || Q) for the candidate of `i` bins. P: bins 0..<i with the mass beyond folded into bin
  /// i−1. Q: the unfolded bins 0..<i merged into `levels` groups, each group's mass spread evenly
  /// over the bins where P is non-zero. Both are normalised, then smoothed (bins where a
  /// distribution is 0 get 1e-4, its other bins are scaled down to keep the sum 1) so that KL stays finite.
  public static func divergence(_ hist: [Double], bins i: Int) -> Double {
    var p = Array(hist[0..<i])
    p[i - 1] += hist[i...].reduce(0, +)
    var q = [Double](repeating: 0, count: i)
    for l in 0..<levels {
      let start = l * i / levels, end = (l + 1) * i / levels
      guard end > start else { continue }
      var mass = 0.0, nonzero = 0
      for b in start..<end { mass += hist[b]; if p[b] != 0 { nonzero += 1 } }
      guard nonzero > 0 else { continue }
      for b in start..<end where p[b] != 0 { q[b] = mass / Double(nonzero) }
    }
    guard let ps = smoothed(p), let qs = smoothed(q) else { return p.contains { $0 > 0 } ? .infinity : 0 }
    var kl = 0.0
    for b in 0..<i where ps[b] > 0 { kl += ps[b] * Foundation.log(ps[b] / qs[b]) }
    return kl
  }

  /// Normalised copy with every zero bin raised to eps = 1e-4 and the non-zero bins scaled by
  /// (1 − eps·zeros), so that it still sums to 1; nil when the distribution is empty.
  static func smoothed(_ h: [Double]) -> [Double]? {
    let total = h.reduce(0, +)
    guard total > 0 else { return nil }
    let eps = 1e-4
    let zeros = h.filter { $0 == 0 }.count
    let keep = 1 - eps * Double(zeros)
    return h.map { $0 == 0 ? eps : $0 / total * keep }
  }

  /// The threshold with the smallest divergence (the first on ties); 0 for no data.
  public static func threshold(_ absValues: [Float]) -> Float {
    let amax = absValues.filter(\.isFinite).max() ?? 0
    guard amax > 0 else { return 0 }
    let h = histogram(absValues, amax: amax)
    var best = bins, bestKL = Double.infinity
    for i in levels...bins {
      let kl = divergence(h, bins: i)
      if kl < bestKL { bestKL = kl; best = i }
    }
    let w = amax / Float(bins)
    return Swift.min((Float(best) + 0.5) * w, amax)
  }
}

