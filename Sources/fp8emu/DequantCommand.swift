import ArgumentParser
import FP8
import FP8IO

struct Dequant: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Dequantise the FP8 tensors of a safetensors checkpoint to BF16 or F32.",
    discussion: """
      Each FP8 weight w with scale s becomes w·s[i/128, j/128] (or its per-tensor, per-channel, \
      MXFP8 equivalent) computed in FP32 and rounded to nearest-even to BF16: DeepSeek-V3's \
      weight_dequant. Scale tensors are dropped, other tensors copied, names and metadata kept; \
      the output is written to a temporary file and renamed.
      """)

  @Argument(help: "Input .safetensors file.") var file: String
  @Option(help: "Output .safetensors file.") var out: String
  @Option(help: "Output element type: bf16, f16 or f32.") var to: String = "bf16"
  @Option(help: "SIMD path: auto, scalar, avx2, avx512.") var isa: String = "auto"

  func run() throws {
    guard let format = ElementFormat(name: to), [.bf16, .f16, .f32].contains(format) else {
      throw ValidationError("--to must be bf16, f16 or f32")
    }
    guard let isaValue = ISA(name: isa) else { throw ValidationError("unknown --isa \(isa)") }
    let size = (try? MappedFile(path: file).size) ?? 0
    var bar = ProgressBar(totalBytes: size)
    let names = try FP8Checkpoint.dequantize(input: file, output: out, to: format, isa: isaValue) { bar.update($0, $1) }
    print("dequantised \(names.count) FP8 tensors to \(format); wrote \(out)")
  }
}
