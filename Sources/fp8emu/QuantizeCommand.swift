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
  @Option(help: "e4m3 or e5m2.") var format: String?
  @Option(help: "deepseek-v3, fp8-per-tensor, fp8-per-channel, mxfp8, mxfp8-te.") var preset: String?
  @Option(help: "MXFP8 scale rule: ocp or round-up.") var mxRule: String?
  @Flag(help: "Quantise every float tensor, not only 2-D \"*weight\" tensors.") var all = false
  @Option(help: "SIMD path: auto, scalar, avx2, avx512.") var isa: String = "auto"

  func run() throws {
    var granularity: ScaleGranularity?
    var fmt = ElementFormat.e4m3
    var rule = MXScaleRule.ocpFloor
    if let preset {
      switch preset {
      case "deepseek-v3": granularity = .block128
      case "fp8-per-tensor": granularity = .perTensor
      case "fp8-per-channel": granularity = .perChannel
      case "mxfp8": granularity = .mxfp8
      case "mxfp8-te": granularity = .mxfp8; rule = .roundUp
      default: throw ValidationError("unknown --preset \(preset)")
      }
    }
    if let recipe {
      guard let g = ScaleGranularity(rawValue: recipe), FP8Checkpoint.weightGranularities.contains(g) else {
        throw ValidationError("unknown --recipe \(recipe)")
      }
      granularity = g
    }
    guard let granularity else { throw ValidationError("give --recipe or --preset") }
    if let format {
      guard let f = ElementFormat(name: format), f == .e4m3 || f == .e5m2 else { throw ValidationError("--format must be e4m3 or e5m2") }
      fmt = f
    }
    if let mxRule {
      guard let r = MXScaleRule(rawValue: mxRule) else { throw ValidationError("--mx-rule must be ocp or round-up") }
      rule = r
    }
    guard let isaValue = ISA(name: isa) else { throw ValidationError("unknown --isa \(isa)") }
    let q = Quantizer(format: fmt, granularity: granularity, mxRule: rule, isa: isaValue)
    let size = (try? MappedFile(path: file).size) ?? 0
    var bar = ProgressBar(totalBytes: size)
    let names = try FP8Checkpoint.quantize(input: file, output: out, quantizer: q, all: all) { bar.update($0, $1) }
    print("quantised \(names.count) tensors to \(fmt) (\(granularity)); wrote \(out)")
  }
}
