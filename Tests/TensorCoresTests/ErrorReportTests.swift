import TensorCores
import Testing

@Suite("Error report")
struct ErrorReportTests {
  @Test func ulpDistanceAndHistogram() {
    #expect(ErrorReport.ulpDistance(1, 1) == 0)
    #expect(ErrorReport.ulpDistance(1, Float(1).nextUp) == 1)
    #expect(ErrorReport.ulpDistance(0, -0.0) == 0)
    #expect(ErrorReport.ulpDistance(Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude) == 2)
    let reference: [Float] = [1, 2, 4, 8, 0, .infinity]
    let result: [Float] = [1, Float(2).nextUp, 4 * (1 + 3 * .ulpOfOne), 7, 0.5, .infinity]
    let r = ErrorReport(result: result, reference: reference)
    // buckets 0, 1, 2-3, 4-15, 16-255, 256-65535, more: 1 and the Inf pair are skipped from ulps
    #expect(r.ulpHistogram == [1, 1, 1, 0, 0, 0, 2])
    #expect(r.maxRelativeError == 0.125)
    #expect(r.maxAbsoluteError == 1)
    #expect(r.nonFiniteMismatches == 0)
    #expect(ErrorReport(result: [.nan], reference: [1]).nonFiniteMismatches == 1)
  }

  /// NaN and Inf are counted and named; a score over the finite elements says it skipped some.
  @Test func nonFiniteOutputsAreCountedNotHidden() {
    let r = ErrorReport(result: [1, .nan, .nan, .infinity, 2], reference: [1, .nan, 3, .infinity, -.infinity])
    #expect(r.compared == 1 && r.nanOutputs == 2 && r.infiniteOutputs == 1)
    #expect(r.nanMismatches == 1 && r.infiniteMismatches == 1)
    #expect(r.description.hasPrefix("over the 1 of 5 elements that are finite in both"))
    #expect(r.description.contains("2 NaN and 1 infinite outputs, 1 NaN and 1 infinite where the reference differs"))
    let none = ErrorReport(result: [.nan, .nan], reference: [.nan, .nan])
    #expect(none.description.hasPrefix("no element to compare") && !none.description.contains("max rel"))
    #expect(!ErrorReport(result: [1, 2], reference: [1, 2]).description.contains("NaN"))
  }
}
