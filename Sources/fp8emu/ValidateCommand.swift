import ArgumentParser
import FP8
import FP8IO
import Foundation
import TensorCores

/// `fp8emu validate --vectors DIR [--gpu NAME] [--isa ISA] [--json]`: runs every row of the public
/// real-GPU vector layout through the tensor-core model and prints rows bit-exact / rows per
/// GPU × input format × accumulator. Exit status 1 when any row of any file differs.
struct Validate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check the tensor-core model against vectors measured on real GPUs.")

  @Option(help: "Folder with <GPU>/<format>/ subfolders (the public vector layout).")
  var vectors: String

  @Option(help: "Only this GPU folder (case-insensitive).")
  var gpu: String?

  @Option(help: "SIMD path: scalar, avx2, avx512, neon, or auto.")
  var isa: String = "auto"

  @Flag(help: "One JSON object per row instead of a table.")
  var json = false

  func run() throws {
    guard let isa = ISA(name: isa), isa.isSupported else { throw ValidationError("unknown or unsupported ISA \(self.isa)") }
    var folders = try TensorCoreVectors.folders(in: vectors)
    if let gpu { folders = folders.filter { $0.gpu.lowercased() == gpu.lowercased() } }
    if folders.isEmpty { throw ValidationError("no <GPU>/<format> folders under \(vectors)" + (gpu.map { " for \($0)" } ?? "")) }
    var failed = false
    if !json {
      print("GPU      preset  input  acc   bit-exact / rows  note")
    }
    for (gpuName, inputName) in folders {
      guard let plan = TensorCoreValidation.plan(gpuFolder: gpuName, inputFolder: inputName) else {
        let why = TensorCoreInput(name: inputName) == nil ? "unknown input format" : "unknown GPU (no preset)"
        emit(gpuName, "-", inputName, "-", nil, 0, why)
        continue
      }
      let set = try TensorCoreVectors.load(directory: vectors, gpu: gpuName, input: inputName)
      for (acc, expected) in [(TensorCoreAccumulator.fp32, set.d32), (.fp16, set.d16)] {
        guard let expected else { continue }
        guard let model = plan.gpu.numerics(for: plan.input, accumulator: acc) else {
          emit(gpuName, plan.gpu.name, inputName, acc.rawValue, nil, expected.count, "no such tensor-core path")
          failed = true
          continue
        }
        let ignoreC = plan.ignoresC(accumulator: acc)
        let out = try TensorCoreValidation.check(a: set.a, b: set.b, c: set.c, expected: expected, input: plan.input,
                                                 model: model, ignoreC: ignoreC, isa: isa)
        var note = out.allMatch ? "" : "MISMATCH"
        if ignoreC { note += note.isEmpty ? "c = 0 (wgmma D = A·B + D)" : "; c = 0" }
        if !out.allMatch { failed = true }
        emit(gpuName, plan.gpu.name, inputName, acc.rawValue, out.matched, out.rows, note)
      }
    }
    if failed { throw ExitCode(1) }
  }

  private func emit(_ gpu: String, _ preset: String, _ input: String, _ acc: String, _ matched: Int?, _ rows: Int, _ note: String) {
    if json {
      let obj: [String: Any] = ["gpu": gpu, "preset": preset, "input": input, "accumulator": acc,
                                "bit_exact": matched ?? NSNull(), "rows": rows, "note": note]
      if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
      }
    } else {
      let m = matched.map { "\($0)" } ?? "-"
      print("\(gpu.padding(8)) \(preset.padding(7)) \(input.padding(6)) \(acc.padding(5)) \((m + " / \(rows)").padding(17)) \(note)")
    }
  }
}

