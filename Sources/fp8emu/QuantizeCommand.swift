import ArgumentParser
import FP8
import FP8IO

struct Quantize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Quantise the weights of a safetensors checkpoint to FP8 with scales.",
    discussion: """
      s = amax/max_finite per group (448 for E4M3, 57344 for E5M2; MXFP8: a power of two), \
      q = satfinite(x/s) with round-to-nearest-even (a division, as DeepSeek-V3's reference; \
      x*(1/s) would differ in the last bit). Writes X as F8 and X_scale_inv (block128) or X_scale. \
      By default only 2-D F32/F16/BF16 tensors whose name ends in "weight" are quantised; --all \
      quantises every float tensor.
      Presets: deepseek-v3 (block128, e4m3), fp8-per-tensor (per-tensor, e4m3), \
      fp8-per-channel (per-channel, e4m3), mxfp8 (mxfp8, e4m3, OCP scale rule), \
      mxfp8-te (mxfp8, e4m3, Transformer Engine round-up rule).
      """)

  @Argument(help: "Input .safetensors file.") var file: String
  @Option(help: "Output .safetensors file.") var out: String
  @Option(help: "per-tensor, per-channel, block128 or mxfp8.") var recipe: String?
  @Option(help: "e4m3 or e5m2. (default: e4m3)") var format: String?
  @Option(help: "deepseek-v3, fp8-per-tensor, fp8-per-channel, mxfp8, mxfp8-te (instead of --recipe).") var preset: String?
  @Option(help: "MXFP8 scale rule: ocp or round-up. (default: ocp)") var mxRule: String?
  @Flag(help: "Quantise every float tensor, not only 2-D \"*weight\" tensors.") var all = false
  @Option(help: "SIMD path: auto, scalar, avx2, avx512.") var isa: String = "auto"
  @Flag(help: "Print nothing but the result: no progress.") var quiet = false

  /// The quantiser the options describe, checked.
  func quantizer() throws -> Quantizer {
    try Check.conflict(recipe != nil, "--recipe", preset != nil, "--preset")
    try Check.requires(recipe == nil && preset == nil, "quantize", false, "--recipe or --preset")
    let presets: [String: (ScaleGranularity, MXScaleRule)] = [
      "deepseek-v3": (.block128, .ocpFloor), "fp8-per-tensor": (.perTensor, .ocpFloor), "fp8-per-channel": (.perChannel, .ocpFloor),
      "mxfp8": (.mxfp8, .ocpFloor), "mxfp8-te": (.mxfp8, .roundUp),
    ]
    var (granularity, rule) = try preset.map { try Check.named($0, "--preset", presets.keys.sorted()) { presets[$0] } }
      ?? (ScaleGranularity.perTensor, .ocpFloor)
    if let recipe {
      granularity = try Check.named(recipe, "--recipe", FP8Checkpoint.weightGranularities.map(\.rawValue)) { n in
        ScaleGranularity(rawValue: n).flatMap { FP8Checkpoint.weightGranularities.contains($0) ? $0 : nil }
      }
    }
    try Check.applies(mxRule != nil, "--mx-rule", when: granularity == .mxfp8, "to the mxfp8 recipe")
    try Check.applies(mxRule != nil && preset != nil, "--mx-rule", when: false, "with --recipe mxfp8 (the preset sets the rule)")
    if let mxRule { rule = try Check.named(mxRule, "--mx-rule", ["ocp", "round-up"]) { MXScaleRule(rawValue: $0) } }
    let fmt = try Check.named(format ?? "e4m3", "--format", ["e4m3", "e5m2"]) { n in
      ElementFormat(name: n).flatMap { $0 == .e4m3 || $0 == .e5m2 ? $0 : nil }
    }
    return Quantizer(format: fmt, granularity: granularity, mxRule: rule, isa: try isaOption(isa))
  }

  func validate() throws {
    _ = try quantizer()
  }

  func run() throws {
    let q = try quantizer()
    let size = (try? InputFile(path: file).size) ?? 0
    var bar = ProgressBar(totalBytes: size, quiet: quiet)
    let names = try FP8Checkpoint.quantize(input: file, output: out, quantizer: q, all: all) { bar.update($0, $1) }
    print("quantised \(names.count) tensors to \(q.format) (\(q.granularity)); wrote \(out)")
  }
}
