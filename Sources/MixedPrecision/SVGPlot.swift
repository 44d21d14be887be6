import Foundation

/// Line plots of training runs as SVG (own writer: axes, ticks, one polyline per series, legend).
public enum SVGPlot {
  typealias Series = (name: String, x: [Double], y: [Double])

  static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

  /// The comparison figure of `fp8emu train --svg`: the training loss of every run (mean of
  /// `smoothing` steps, so that the mini-batch noise does not hide the curves) and, below it, each
  /// run's held-out loss relative to the FP32 run's at the same evaluation step, in percent, where
  /// a gap of a few percent is visible that the loss curves alone cannot show.
  public static func comparison(_ runs: [RunResult], title: String, smoothing: Int = 10, width: Int = 760, height: Int = 700) -> String {
    let names = runs.map { $0.recipe + " (" + $0.numerics + ")" }
    let k = max(1, smoothing)
    let train: [Series] = zip(names, runs).map { name, r in
      var xs: [Double] = [], ys: [Double] = []
      var i = 0
      while i + k <= r.losses.count {
        let chunk = r.losses[i..<i + k].map(Double.init)
        xs.append(Double(i) + Double(k - 1) / 2); ys.append(chunk.reduce(0, +) / Double(k))
        i += k
      }
      return (name, xs, ys)
    }
    let w = Double(width) - 220, h = (Double(height) - 130) / 2
    var body = panel(train, title: "\(title): training loss (mean of \(k) steps)", xLabel: "step", frame: (60, 30, w, h), legend: true)
    if let fp32 = runs.first(where: { $0.recipe == "fp32" }), !fp32.evalSteps.isEmpty {
      let base = Dictionary(zip(fp32.evalSteps, fp32.evalLosses), uniquingKeysWith: { a, _ in a })
      let rel: [Series] = zip(names, runs).map { name, r in
        let pts = zip(r.evalSteps, r.evalLosses).compactMap { s, v in base[s].map { (Double(s), 100 * (v / $0 - 1)) } }
        return (name, pts.map(\.0), pts.map(\.1))
      }
      body += panel(rel, title: "held-out loss vs FP32 (%)", xLabel: "step", frame: (60, 30 + h + 65, w, h), legend: false, zeroLine: true)
    }
    return document(width: width, height: height, body)
  }

  static func document(width: Int, height: Int, _ body: String) -> String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
      + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
  }

  static func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
  }

  /// One framed panel at `frame` = (left, top, width, height), y range from the finite values.
  static func panel(_ series: [Series], title: String, xLabel: String, frame: (Double, Double, Double, Double),
                    legend: Bool, zeroLine: Bool = false) -> String {
    let (left, top, w, h) = frame
    let ys = series.flatMap(\.y).filter(\.isFinite) + (zeroLine ? [0] : [])
    let xs = series.flatMap(\.x).filter(\.isFinite)
    var lo = ys.min() ?? 0, hi = ys.max() ?? 1
    if hi <= lo { hi = lo + 1 }
    let pad = (hi - lo) * 0.05; lo -= pad; hi += pad
    let x0 = xs.min() ?? 0, x1 = max((xs.max() ?? 1), x0 + 1)
    func x(_ v: Double) -> Double { left + w * (v - x0) / (x1 - x0) }
    func y(_ v: Double) -> Double { top + h * (1 - (v - lo) / (hi - lo)) }
    var s = "<text x=\"\(left)\" y=\"\(top - 12)\" font-size=\"14\">\(esc(title))</text>\n"
    s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", left, top, w, h)
    for t in 0...4 {
      let v = lo + (hi - lo) * Double(t) / 4
      s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", left, y(v), left + w, y(v))
      s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>\n", left - 4, y(v) + 4, v)
      let xv = x0 + (x1 - x0) * Double(t) / 4
      s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", x(xv), top + h + 16, xv)
    }
    if zeroLine {
      s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\" stroke-dasharray=\"4 3\"/>\n", left, y(0), left + w, y(0))
    }
    s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", left + w / 2, top + h + 34, esc(xLabel))
    for (i, ser) in series.enumerated() {
      let c = colors[i % colors.count]
      let pts = zip(ser.x, ser.y).filter { $0.0.isFinite && $0.1.isFinite }.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }
      s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.4\" points=\"\(pts.joined(separator: " "))\"/>\n"
      if legend {
        let ly = top + 14 + 18 * Double(i)
        s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"2\"/>", left + w + 10, ly - 4, left + w + 30, ly - 4, c)
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\">%@</text>\n", left + w + 36, ly, esc(ser.name))
      }
    }
    return s
  }
}
