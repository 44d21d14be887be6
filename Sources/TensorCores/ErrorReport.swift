/// How far a result is from a reference (normally `.exact`): relative errors over the elements
/// where both are finite and the reference is non-zero, a histogram of the distance in FP32 ulps
/// (the count of FP32 values between the two, so 0 means bit-identical), and the elements that
/// were not compared: NaN and infinite outputs, and those that disagree with the reference on
/// being NaN or infinite. The description never shows a perfect score over skipped elements
/// without saying how many were skipped.
public struct ErrorReport: Sendable, CustomStringConvertible {
  /// Upper bounds of the histogram buckets: 0, 1, 2…3, 4…15, 16…255, 256…65535, more.
  public static let ulpBuckets: [UInt64] = [0, 1, 3, 15, 255, 65535, .max]

  public let count: Int
  /// Elements where result and reference are both finite (the errors below are over these).
  public let compared: Int
  public let maxRelativeError: Double
  public let meanRelativeError: Double
  public let maxAbsoluteError: Double
  /// Elements per bucket of `ulpBuckets`.
  public let ulpHistogram: [Int]
  /// NaN elements of the result.
  public let nanOutputs: Int
  /// ±Inf elements of the result.
  public let infiniteOutputs: Int
  /// Elements where exactly one of result and reference is NaN.
  public let nanMismatches: Int
  /// Elements, neither NaN, where one of result and reference is infinite and they differ.
  public let infiniteMismatches: Int

  /// Elements where result and reference disagree on being NaN or infinite.
  public var nonFiniteMismatches: Int { nanMismatches + infiniteMismatches }

  public init(result: [Float], reference: [Float]) {
    precondition(result.count == reference.count, "result and reference differ in length")
    var maxRel = 0.0, sumRel = 0.0, nRel = 0, maxAbs = 0.0
    var nan = 0, inf = 0, nanBad = 0, infBad = 0, compared = 0
    var hist = [Int](repeating: 0, count: ErrorReport.ulpBuckets.count)
    for (r, e) in zip(result, reference) {
      if r.isNaN { nan += 1 } else if r.isInfinite { inf += 1 }
      if !r.isFinite || !e.isFinite {
        if r.isNaN != e.isNaN { nanBad += 1 } else if !r.isNaN && r != e { infBad += 1 }
        continue
      }
      compared += 1
      let diff = abs(Double(r) - Double(e))
      maxAbs = max(maxAbs, diff)
      if e != 0 {
        let rel = diff / abs(Double(e))
        maxRel = max(maxRel, rel)
        sumRel += rel
        nRel += 1
      }
      let u = ErrorReport.ulpDistance(r, e)
      hist[ErrorReport.ulpBuckets.firstIndex(where: { u <= $0 })!] += 1
    }
    count = result.count
    self.compared = compared
    maxRelativeError = maxRel
    meanRelativeError = nRel > 0 ? sumRel / Double(nRel) : 0
    maxAbsoluteError = maxAbs
    ulpHistogram = hist
    nanOutputs = nan
    infiniteOutputs = inf
    nanMismatches = nanBad
    infiniteMismatches = infBad
  }

  /// Count of FP32 values between x and y (finite), with +0 and −0 the same.
  public static func ulpDistance(_ x: Float, _ y: Float) -> UInt64 {
    func key(_ f: Float) -> Int64 {
      let b = Int64(f.bitPattern & 0x7FFF_FFFF)
      return f.sign == .minus ? -b : b
    }
    return UInt64(abs(key(x) - key(y)))
  }

  public var description: String {
    let labels = ["0", "1", "2-3", "4-15", "16-255", "256-65535", ">65535"]
    let h = zip(labels, ulpHistogram).filter { $0.1 > 0 }.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
    var text: String
    if compared == 0 && count > 0 {
      text = "no element to compare: all \(count) are NaN or infinite in the result or the reference"
    } else {
      text = (compared < count ? "over the \(compared) of \(count) elements that are finite in both: " : "")
        + "max rel \(maxRelativeError), mean rel \(meanRelativeError), max abs \(maxAbsoluteError); ulps {\(h)}"
    }
    if nanOutputs > 0 || infiniteOutputs > 0 || nonFiniteMismatches > 0 {
      text += "; \(nanOutputs) NaN and \(infiniteOutputs) infinite outputs, \(nanMismatches) NaN and \(infiniteMismatches) infinite"
        + " where the reference differs"
    }
    return text
  }
}
