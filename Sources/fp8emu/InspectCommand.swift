import ArgumentParser
import FP8IO
import Foundation

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the tensors of a safetensors file with their FP8 scales and statistics.",
    discussion: """
      For each tensor: name, dtype, shape, bytes; for an FP8 tensor the scale tensor paired with it \
      (X_scale_inv or X_scale) and the granularity inferred from the scale's shape; and statistics \
      of the stored values: amax, fraction of NaN, saturated (±max finite or ±Inf) and zero elements.
      """)

  @Argument(help: "A .safetensors file.") var file: String
  @Flag(help: "Print one JSON document instead of a table.") var json = false
  @Flag(help: "Skip the statistics (reads only the header).") var noStats = false
  @Flag(help: "Print nothing but the result: no progress.") var quiet = false

  struct Row: Codable {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: Int
    var scale: String?
    var granularity: String?
    var inputScale: String?
    var amax: Double?
    var nanFraction: Double?
    var saturatedFraction: Double?
    var zeroFraction: Double?
  }

  struct Report: Codable {
    var file: String
    var metadata: [String: String]?
    var tensors: [Row]
  }

  func run() throws {
    let f = try SafetensorsFile(path: file)
    let pairs = try FP8Checkpoint.pairings(f, strict: false)
    var bar = ProgressBar(totalBytes: f.size, quiet: quiet)
    let total = Double(max(1, f.dataSize))
    var done = 0.0
    var rows: [Row] = []
    for t in f.tensors {
      bar.update(done / total, t.name)
      let p = pairs[t.name]
      let s = noStats ? nil : try FP8Checkpoint.statistics(t, in: f)
      rows.append(
        Row(
          name: t.name, dtype: t.dtype.rawValue, shape: t.shape, bytes: t.byteCount, scale: p?.scale,
          granularity: p?.granularity.rawValue, inputScale: p?.inputScale, amax: s?.amax, nanFraction: s?.nanFraction,
          saturatedFraction: s?.saturatedFraction, zeroFraction: s?.zeroFraction))
      done += Double(t.byteCount)
    }
    bar.update(1, "")
    if json {
      try JSONLines.print(Report(file: file, metadata: f.metadata, tensors: rows))
      return
    }
    // names and metadata come from the file: escaped, so that they cannot drive the terminal
    if let m = f.metadata, !m.isEmpty {
      print("metadata: " + m.keys.sorted().map { "\(escapedForTerminal($0))=\(escapedForTerminal(m[$0]!))" }.joined(separator: ", "))
    }
    let header = ["name", "dtype", "shape", "bytes", "scale", "granularity", "amax", "nan", "sat", "zero"]
    var table = [header]
    func pct(_ x: Double?) -> String { x.map { String(format: "%.3g%%", $0 * 100) } ?? "-" }
    for r in rows {
      table.append([
        escapedForTerminal(r.name), r.dtype, "[" + r.shape.map(String.init).joined(separator: ",") + "]", String(r.bytes), r.scale.map { escapedForTerminal($0) } ?? "-",
        r.granularity ?? "-", r.amax.map { String(format: "%.6g", $0) } ?? "-", pct(r.nanFraction),
        pct(r.saturatedFraction), pct(r.zeroFraction),
      ])
    }
    let widths = (0..<header.count).map { c in table.map { $0[c].count }.max()! }
    for row in table {
      print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
    print("\(rows.count) tensors, \(f.size) bytes, \(pairs.count) FP8 tensors with scales")
  }
}
