import ArgumentParser
import FP8
import FP8IO

/// `fp8emu convert`: raw little-endian files between element formats.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert a raw little-endian file between element formats (f32, f16, bf16, e4m3, e5m2, e4m3fnuz, e5m2fnuz, e8m0).",
    discussion: """
      Wide -> FP8 encodes with the chosen rounding and preset (one rounding, no intermediate \
      format); FP8 -> wide decodes exactly (E8M0 -> f16 rounds). The output is written to a \
      temporary file in the output's folder and renamed, so a failed run leaves no partial file.
      """)

  @Option(help: "Input format.") var from: String
  @Option(help: "Output format.") var to: String
  @Option(help: "rne | rz | stochastic | up (up: E8M0 only).") var rounding: String = "rne"
  @Option(help: "Seed for stochastic rounding (bits of element i are a hash of (seed, i)).") var seed: UInt64 = 0
  @Option(help: "cuda-satfinite | cuda-nosat | ml-dtypes | pytorch.") var preset: String = "cuda-satfinite"
  @Option(help: "SIMD path: auto | scalar | avx2 | avx512 | neon.") var isa: String = "auto"
  @Argument(help: "Input file.") var input: String
  @Argument(help: "Output file.") var output: String

  func run() throws {
    guard let src = ElementFormat(name: from) else { throw ValidationError("unknown format '\(from)' for --from") }
    guard let dst = ElementFormat(name: to) else { throw ValidationError("unknown format '\(to)' for --to") }
    guard let mode = Rounding(name: rounding, seed: seed) else { throw ValidationError("unknown rounding '\(rounding)' (rne, rz, stochastic, up)") }
    guard let pre = OverflowPreset(rawValue: preset) else {
      throw ValidationError("unknown preset '\(preset)' (\(OverflowPreset.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    guard let path = ISA(name: isa) else { throw ValidationError("unknown isa '\(isa)'") }
    try RawFileConversion.convert(input: input, output: output, from: src, to: dst, rounding: mode, preset: pre, isa: path)
  }
}
