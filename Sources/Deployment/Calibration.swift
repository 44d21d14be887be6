import Foundation

/// How a per-tensor activation scale is chosen from calibration data (INT8, symmetric):
/// the clipping threshold T gives the scale `T / 127`.
///
/// | method | threshold |
/// |---|---|
/// | `max` | max |x| over the calibration data |
/// | `percentile(p)` | the p-th percentile of |x| (e.g. 99.99): the smallest |x| with at least p% of the values ≤ it |
/// | `entropy` | TensorRT-style: a 2048-bin histogram of |x| over [0, max]; for every candidate of i = 128…2048 bins, the reference P (bins 0..<i, with the mass beyond folded into bin i−1) is compared by KL divergence with Q (P's i bins merged into 128 levels and spread back uniformly over each level's non-empty bins); T = (i + 0.5) · bin width of the best i |
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

  /// KL(P || Q) for the candidate of `i` bins (P, Q normalised; terms with P = 0 contribute 0; a
  /// Q of 0 where P > 0 gives +∞).
  public static func divergence(_ hist: [Double], bins i: Int) -> Double {
    var p = Array(hist[0..<i])
    p[i - 1] += hist[i...].reduce(0, +)
    var q = [Double](repeating: 0, count: i)
    // Merge the i candidate bins (without the folded outliers) into `levels` groups.
    let ref = Array(hist[0..<i])
    for l in 0..<levels {
      let start = l * i / levels, end = (l + 1) * i / levels
      guard end > start else { continue }
      var mass = 0.0, nonzero = 0
      for b in start..<end { mass += ref[b]; if ref[b] != 0 { nonzero += 1 } }
      guard nonzero > 0 else { continue }
      for b in start..<end where ref[b] != 0 { q[b] = mass / Double(nonzero) }
    }
    let sp = p.reduce(0, +), sq = q.reduce(0, +)
    guard sp > 0 else { return 0 }
    guard sq > 0 else { return .infinity }
    var kl = 0.0
    for b in 0..<i where p[b] > 0 {
      let pb = p[b] / sp, qb = q[b] / sq
      if qb == 0 { return .infinity }
      kl += pb * (pb / qb).logOrZero
    }
    return kl
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

extension Double {
  var logOrZero: Double { self > 0 ? Foundation.log(self) : 0 }
}
