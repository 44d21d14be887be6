import ArgumentParser
import FP8
import Foundation

/// `fp8emu verify`: every SIMD encode path against the scalar reference, exhaustively.
struct Verify: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare every SIMD conversion path with the scalar reference on every input pattern.",
    discussion: """
      Sources: all 2^32 FP32 patterns and all 2^16 FP16 and BF16 patterns. For each FP8 format, \
      rounding mode (stochastic with seed 0x5EED) and preset, every SIMD path is compared with \
      the scalar reference. Prints format x preset x rounding x path -> inputs, mismatches, \
      seconds (of the whole sweep group). Exit status 1 on any mismatch.
      """)

  @Option(help: "Source formats to sweep (comma separated: f32,f16,bf16).")
  var sources: String = "f32,f16,bf16"

  @Flag(help: "Also sweep FP32 -> E8M0 over all 2^32 inputs (no SIMD kernel: the paths share the scalar routine).")
  var e8m0F32 = false

  @Option(help: "Sweep only every N-th of 256 FP32 slices (quick run; 1 = all 2^32).")
  var f32Stride: Int = 1

  @Option(help: "Threads (0 = all).")
  var threads: Int = 0

  @Flag(help: "One JSON object per row on stdout.")
  var json = false

  func run() throws {
    var srcs: [ElementFormat] = []
    for name in sources.split(separator: ",") {
      guard let f = ElementFormat(name: String(name)), [.f32, .f16, .bf16].contains(f) else {
        throw ValidationError("unknown source format '\(name)' (f32, f16, bf16)")
      }
      srcs.append(f)
    }
    let groups = ConversionVerifier.groups(sources: srcs, includeE8M0F32: e8m0F32)
    let totalInputs = groups.reduce(UInt64(0)) { $0 + $1.inputs }
    var doneInputs: UInt64 = 0
    var rows: [ConversionVerifier.Row] = []
    let start = Date()
    var bar = ProgressBar.onTerminal
    if !json {
      print("paths compared with the scalar reference: \(ConversionVerifier.paths.map(\.description).joined(separator: ", "))")
      print(pad("source", 7) + pad("format", 9) + pad("rounding", 11) + pad("preset", 15) + pad("path", 8)
            + lpad("inputs", 12) + lpad("mismatches", 12) + lpad("seconds", 9))
    }
    for g in groups {
      let base = doneInputs
      let groupRows = try ConversionVerifier.run(g, stride: f32Stride, threads: threads) { done, _ in
        let fraction = Double(base + done) / Double(totalInputs)
        bar.update(fraction, text: String(format: "%5.1f%% %6.1fs ", fraction * 100, Date().timeIntervalSince(start))
                     + "\(g.source)->\(g.format) \(g.rounding.name)")
      }
      doneInputs += g.inputs
      for r in groupRows {
        if json {
          let first = r.firstMismatch.map { "\"0x\(String($0, radix: 16))\"" } ?? "null"
          print("{\"source\":\"\(r.source)\",\"format\":\"\(r.format)\",\"rounding\":\"\(r.rounding)\",\"preset\":\"\(r.preset)\",\"path\":\"\(r.isa)\",\"inputs\":\(r.inputs),\"mismatches\":\(r.mismatches),\"first_mismatch\":\(first),\"seconds\":\(String(format: "%.3f", r.seconds))}")
        } else {
          bar.finish(keep: false)
          print(pad("\(r.source)", 7) + pad("\(r.format)", 9) + pad(r.rounding, 11) + pad(r.preset, 15)
                + pad("\(r.isa)", 8) + lpad("\(r.inputs)", 12) + lpad("\(r.mismatches)", 12)
                + lpad(String(format: "%.2f", r.seconds), 9))
        }
      }
      rows += groupRows
    }
    bar.finish(keep: false)
    let bad = rows.filter { $0.mismatches > 0 }
    let secs = Date().timeIntervalSince(start)
    FileHandle.standardError.write(Data(
      "verify: \(rows.count) cells, \(doneInputs) input patterns per path, \(bad.count) with mismatches, \(String(format: "%.1f", secs)) s\n".utf8))
    if !bad.isEmpty { throw ExitCode(1) }
  }
}

/// A column: left-aligned in `n` characters, or followed by one space when longer.
private func pad(_ s: String, _ n: Int) -> String { s.padding(n - 1) + " " }
/// A column: right-aligned in `n` characters, or after one space when longer.
private func lpad(_ s: String, _ n: Int) -> String { " " + s.padding(n - 1, alignRight: true) }
