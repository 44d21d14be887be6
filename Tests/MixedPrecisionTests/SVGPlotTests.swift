// The comparison figure: two panels, smoothed training curves and the held-out gap to FP32, with
// every point inside its panel; a gap the figure must show is placed where it is computed by hand.
import Testing
@testable import MixedPrecision
import Foundation

@Suite struct SVGPlotTests {
  func run(_ recipe: String, losses: [Float], eval: [Double]) -> RunResult {
    RunResult(recipe: recipe, gpu: "h100", numerics: recipe == "fp32" ? "fp32" : "h100-promoted128", losses: losses,
              finalLoss: 0, relativeToFP32: nil, metricName: "bits/char", metric: 0, heldOutLoss: 0, stepsToFP32Loss: nil,
              tokensPerSecond: 0, bytesFP8: 0, bytesFP32: 0, skippedSteps: 0, seconds: 0,
              evalSteps: [0, 10, 20], evalLosses: eval)
  }

  /// Polyline point lists of the document, in order.
  func polylines(_ svg: String) -> [[(Double, Double)]] {
    svg.components(separatedBy: "points=\"").dropFirst().map { chunk in
      chunk.prefix { $0 != "\"" }.split(separator: " ").map { p in
        let xy = p.split(separator: ",").map { Double($0)! }
        return (xy[0], xy[1])
      }
    }
  }

  @Test func comparisonHasBothPanels() {
    let fp32 = run("fp32", losses: (0..<30).map { 3 - Float($0) * 0.05 }, eval: [3, 2.5, 2])
    let fp8 = run("delayed", losses: (0..<30).map { 3.02 - Float($0) * 0.05 }, eval: [3, 2.6, 2.1])
    let svg = SVGPlot.comparison([fp32, fp8], title: "t", smoothing: 10)
    #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
    #expect(svg.contains("training loss (mean of 10 steps)") && svg.contains("held-out loss vs FP32 (%)"))
    let lines = polylines(svg)
    #expect(lines.count == 4)  // two runs × two panels
    // Smoothing: 30 steps in windows of 10 give 3 points per run.
    #expect(lines[0].count == 3 && lines[1].count == 3)
    // Bottom panel: FP32 is 0% everywhere (a flat line), delayed 0%, +4%, +5%.
    #expect(Set(lines[2].map(\.1)).count == 1)
    let d = lines[3]
    #expect(d.count == 3 && d[0].1 == lines[2][0].1)
    // Pixel y grows downwards: +5% is above +4%, and both above the 0% line.
    #expect(d[2].1 < d[1].1 && d[1].1 < d[0].1)
    // Every point inside the 760 × 700 document.
    for l in lines { for (x, y) in l { #expect(x >= 0 && x <= 760 && y >= 0 && y <= 700) } }
  }

  @Test func withoutEvaluationsOnlyTheLossPanel() {
    var a = run("fp32", losses: [2, 1], eval: []), b = run("current", losses: [2, 1.5], eval: [])
    a.evalSteps = []; b.evalSteps = []
    let svg = SVGPlot.comparison([a, b], title: "t", smoothing: 1)
    #expect(polylines(svg).count == 2 && !svg.contains("held-out"))
  }
}
