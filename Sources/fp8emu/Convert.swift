import ArgumentParser
import FP8
import FP8IO

/// `fp8emu convert`: raw little-endian files between element formats.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert a raw little-endian file between element formats (f32, f16, bf16, e4m3, e5m2, e4m3fnuz, e5m2fnuz, e8m0).",
    discussion: """
      Wide -> FP8 encodes with the chosen rounding and preset (one rounding, no intermediate \
      format); FP8 -> wide decodes exactly (E8M0 -> f16 rounds). The file is streamed in pieces \
      (memory does not grow with its size) and the output written to a temporary file beside it \
      and renamed: a failed or interrupted run leaves the old output as it was.
      """)

  @Option(help: "Input format.") var from: String
  @Option(help: "Output format.") var to: String
  @Option(help: "Encoding only: rne | rz | stochastic (FP8) or rne | rz | up (E8M0). (default: rne)") var rounding: String?
  @Option(help: "Stochastic rounding only: the seed (bits of element i are a hash of (seed, i)). (default: 0)") var seed: UInt64?
  @Option(help: "Encoding to FP8 only: cuda-satfinite | cuda-nosat | ml-dtypes | pytorch. (default: cuda-satfinite)")
  var preset: String?
  @Option(help: "SIMD path: auto | scalar | avx2 | avx512 | neon.") var isa: String = "auto"
  @Argument(help: "Input file.") var input: String
  @Option(help: "Output file.") var out: String?
  @Argument(help: ArgumentHelp("Output file (deprecated: use --out).", visibility: .hidden)) var output: String?

  struct Plan {
    var source: ElementFormat, destination: ElementFormat, rounding: Rounding, preset: OverflowPreset, isa: ISA
  }

  func plan() throws -> Plan {
    let names = ElementFormat.allCases.map(\.description)
    let src = try Check.named(from, "--from", names) { ElementFormat(name: $0) }
    let dst = try Check.named(to, "--to", names) { ElementFormat(name: $0) }
    let encode = !src.isFP8 && dst.isFP8
    guard encode || (src.isFP8 && !dst.isFP8) else {
      throw Check.fail("--from \(src) --to \(dst): one format must be wide (f32, f16, bf16) and the other FP8")
    }
    try Check.applies(rounding != nil, "--rounding", when: encode, "when encoding (wide to FP8); decoding is exact")
    try Check.applies(preset != nil, "--preset", when: encode && dst != .e8m0, "when encoding to an FP8 format other than e8m0")
    let mode = try Check.named(rounding ?? "rne", "--rounding", ["rne", "rz", "stochastic", "up"]) { Rounding(name: $0, seed: seed ?? 0) }
    switch mode {
    case .up: try Check.applies(true, "--rounding up", when: dst == .e8m0, "to e8m0 (FP8 formats take rne, rz or stochastic)")
    case .stochastic: try Check.applies(true, "--rounding stochastic", when: dst != .e8m0, "to FP8 formats (e8m0 takes rne, rz or up)")
    default: break
    }
    if case .stochastic = mode {} else { try Check.applies(seed != nil, "--seed", when: false, "with --rounding stochastic") }
    let presets = OverflowPreset.allCases.map(\.rawValue)
    let p = try Check.named(preset ?? OverflowPreset.cudaSatfinite.rawValue, "--preset", presets) { OverflowPreset(rawValue: $0) }
    let path = try isaOption(isa)
    return Plan(source: src, destination: dst, rounding: mode, preset: p, isa: path)
  }

  func validate() throws {
    try Check.conflict(out != nil, "--out", output != nil, "a second argument")
    try Check.requires(true, "convert", out != nil || output != nil, "--out FILE")
    _ = try plan()
  }

  func run() throws {
    let p = try plan()
    if output != nil { writeStderr("warning: the output as a second argument is deprecated; use --out\n") }
    try RawFileConversion.convert(
      input: input, output: out ?? output!, from: p.source, to: p.destination, rounding: p.rounding, preset: p.preset,
      isa: p.isa)
  }
}
