/// How far a result is from a reference (normally `.exact`): relative errors over the elements
/// whose reference is non-zero and finite, and a histogram of the distance in FP32 ulps
/// (the count of FP32 values between the two, so 0 means bit-identical).
public struct ErrorReport: Sendable, CustomStringConvertible {
  /// Upper bounds of the histogram buckets: 0, 1, 2…3, 4…15, 16…255, 256…65535, more.
  public static let ulpBuckets: [UInt64] = [0, 1, 3, 15, 255, 65535, .max]

  public let count: Int
  public let maxRelativeError: Double
  public let meanRelativeError: Double
  public let maxAbsoluteError: Double
  /// Elements per bucket of `ulpBuckets`.
  public let ulpHistogram: [Int]
  /// Elements where exactly one of result and reference is NaN or infinite.
  public let nonFiniteMismatches: Int

  public init(result: [Float], reference: [Float]) {
    precondition(result.count == reference.count, "result and reference differ in length")
    var maxRel = 0.0, sumRel = 0.0, nRel = 0, maxAbs = 0.0, bad = 0
    var hist = [Int](repeating: 0, count: ErrorReport.ulpBuckets.count)
    for (r, e) in zip(result, reference) {
      if !r.isFinite || !e.isFinite {
        if r.isNaN != e.isNaN || (r.isInfinite && r != e) || (e.isInfinite && r != e) { bad += 1 }
        continue
      }
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
    maxRelativeError = maxRel
    meanRelativeError = nRel > 0 ? sumRel / Double(nRel) : 0
    maxAbsoluteError = maxAbs
    ulpHistogram = hist
    nonFiniteMismatches = bad
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
    return "max rel \(maxRelativeError), mean rel \(meanRelativeError), max abs \(maxAbsoluteError); ulps {\(h)}"
      + (nonFiniteMismatches > 0 ? "; \(nonFiniteMismatches) non-finite mismatches" : "")
  }
}
