import ArgumentParser
import FP8

@main
struct FP8Emu: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fp8emu",
    abstract: "Bit-exact FP8 arithmetic and NVIDIA tensor-core numerics on a CPU.",
    version: "fp8emu \(FP8EmuVersion.current)",
    subcommands: [
      Train.self, Verify.self, Convert.self, Validate.self, Inspect.self, Dequant.self, Quantize.self,
      Gemm.self, Copy.self, Export.self, Import.self, Info.self,
      Deploy.self, ReplayExport.self,
    ],
    defaultSubcommand: Train.self
  )
}

struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Show the SIMD paths this CPU runs.")
  func run() throws {
    print("SIMD paths: \(ISA.supported.map(\.description).joined(separator: ", ")); default: \(ISA.default)")
    if let error = ISA.environmentError { print("note: \(error)") }
  }
}
