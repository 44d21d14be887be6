import ArgumentParser
import FP8IO
import Foundation

/// `fp8-bench dataparallel`: `fp8emu train` under `mpirun -np N`, per exchange format: step time,
/// bytes each rank sends per step, and scaling efficiency T₁ / (N · T_N) against one process
/// (without MPI). The runs of all configurations are interleaved, `--repeats` times, and each
/// figure is the median. `--convergence` trains the default task to the end instead and tables
/// the held-out loss per exchange against the single-process run.
struct DataParallelBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataparallel", abstract: "Data-parallel training over Open MPI: step time, bytes exchanged, scaling, convergence.")

  @Option(help: "Rank counts (1 runs one process without MPI).") var ranks = "1,2"
  @Option(help: "Exchange formats.") var exchanges = "fp32,bf16,e5m2,e4m3-blockwise"
  @Option(help: "Models: default (d 64, 2 blocks) and large (d 128, 4 blocks).") var models = "default,large"
  @Option(help: "Recipe.") var recipe = "delayed"
  @Option(help: "Steps per timed run.") var steps = 20
  @Option(help: "Interleaved repetitions of every configuration.") var repeats = 3
  @Flag(help: "Train the default task to the end (300 steps) and table the held-out loss per exchange.") var convergence = false
  @Option(help: "The fp8emu binary (default: beside fp8-bench).") var fp8emu: String?
  @Flag(help: "One JSON object per row.") var json = false

  struct Row: Codable {
    var suite = "dataparallel"
    var model: String
    var ranks: Int
    var exchange: String
    var medianStepSeconds: Double
    var bytesPerStep: Int
    var gradientBytesPerStep: Int
    var scalingEfficiency: Double?
    var heldOutLoss: Double?
    var vsSingleProcess: Double?
  }

  /// What one `fp8emu train --json` run reports.
  struct Result: Decodable {
    var seconds: Double
    var heldOutLoss: Double
    var exchange: Exchange?
    struct Exchange: Decodable { var gradientBytes: Int; var controlBytes: Int }
  }

  func modelFlags(_ m: String) throws -> [String] {
    switch m {
    case "default": return []
    case "large": return ["--width", "128", "--layers", "4"]
    default: throw ValidationError("--models: default or large")
    }
  }

  func run() throws {
    let binary = fp8emu ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("fp8emu").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw ValidationError("no fp8emu at \(binary) (--fp8emu)") }
    let ns = ranks.split(separator: ",").compactMap { Int($0) }
    let formats = exchanges.split(separator: ",").map(String.init)
    let ms = models.split(separator: ",").map(String.init)
    var configs: [(model: String, ranks: Int, exchange: String)] = []
    for m in (convergence ? ["default"] : ms) {
      for n in ns { for f in (n == 1 ? ["-"] : formats) { configs.append((m, n, f)) } }
    }
    var samples: [Int: [Result]] = [:]
    for _ in 0..<(convergence ? 1 : repeats) {
      for (i, c) in configs.enumerated() {
        var args = ["train", "--recipe", recipe, "--quiet", "--json", "--eval-every", "0"] + (try modelFlags(c.model))
        if !convergence { args += ["--steps", "\(steps)"] }
        if c.ranks > 1 { args += ["--exchange", c.exchange] }
        samples[i, default: []].append(try launch(binary, ranks: c.ranks, args))
      }
    }
    var rows: [Row] = []
    for (i, c) in configs.enumerated() {
      let rs = samples[i]!
      let times = rs.map { $0.seconds / Double(convergence ? 300 : steps) }.sorted()
      let e = rs[0].exchange
      rows.append(Row(model: c.model, ranks: c.ranks, exchange: c.exchange, medianStepSeconds: times[times.count / 2],
                      bytesPerStep: e.map { $0.gradientBytes + $0.controlBytes } ?? 0, gradientBytesPerStep: e?.gradientBytes ?? 0,
                      heldOutLoss: convergence ? rs[0].heldOutLoss : nil))
    }
    for i in rows.indices {
      guard let base = rows.first(where: { $0.model == rows[i].model && $0.ranks == 1 }) else { continue }
      rows[i].scalingEfficiency = base.medianStepSeconds / (Double(rows[i].ranks) * rows[i].medianStepSeconds)
      if let l = rows[i].heldOutLoss, let b = base.heldOutLoss { rows[i].vsSingleProcess = l / b - 1 }
    }
    if json {
      for r in rows { try JSONLines.print(r) }
      return
    }
    if convergence {
      // One full run each: the loss is the figure, not the time.
      print("model    ranks  exchange         bytes/step (gradient)   held-out loss   vs 1 process")
      for r in rows {
        print(r.model.padding(toLength: 9, withPad: " ", startingAt: 0) + String(format: "%5d  ", r.ranks)
              + r.exchange.padding(toLength: 15, withPad: " ", startingAt: 0)
              + String(format: "%10d (%9d)   %13.4f   %+11.2f%%", r.bytesPerStep, r.gradientBytesPerStep, r.heldOutLoss ?? .nan,
                       100 * (r.vsSingleProcess ?? 0)))
      }
      return
    }
    print("model    ranks  exchange         step ms   bytes/step (gradient)   efficiency")
    for r in rows {
      print(r.model.padding(toLength: 9, withPad: " ", startingAt: 0) + String(format: "%5d  ", r.ranks)
            + r.exchange.padding(toLength: 15, withPad: " ", startingAt: 0)
            + String(format: "%9.1f   %10d (%9d)", r.medianStepSeconds * 1000, r.bytesPerStep, r.gradientBytesPerStep)
            + (r.scalingEfficiency.map { String(format: "   %10.2f", $0) } ?? "            -"))
    }
  }

  /// Runs fp8emu (under mpirun for more than one rank) and decodes rank 0's JSON line.
  func launch(_ binary: String, ranks: Int, _ args: [String]) throws -> Result {
    let p = Process()
    if ranks == 1 {
      p.executableURL = URL(fileURLWithPath: binary)
      p.arguments = args
    } else {
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = ["mpirun"] + (geteuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "-np", "\(ranks)", binary] + args
    }
    // Standard error goes to a file (the startup lines), shown only when the run fails.
    let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("fp8-bench-\(getpid()).err").path
    guard FileManager.default.createFile(atPath: errPath, contents: nil), let err = FileHandle(forWritingAtPath: errPath) else {
      throw ValidationError("cannot create \(errPath)")
    }
    defer { try? err.close(); try? FileManager.default.removeItem(atPath: errPath) }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
      let log = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
      throw ValidationError("fp8emu \(args.joined(separator: " ")) on \(ranks) rank(s) failed (status \(p.terminationStatus)):\n\(log)")
    }
    // fp8emu's JSON keys are snake_case.
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(Result.self, from: Data(line.utf8))
  }
}
