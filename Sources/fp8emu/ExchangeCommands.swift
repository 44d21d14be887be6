import ArgumentParser
import FP8
import FP8IO

struct Copy: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Rewrite a safetensors file through the validating reader and the writer.",
    discussion: "Tensors, dtypes, shapes, bytes and metadata are kept; the layout becomes the reference writer's.")

  @Argument(help: "Input .safetensors file.") var file: String
  @Option(help: "Output .safetensors file.") var out: String

  func run() throws {
    try TensorExchange.copy(input: file, output: out)
  }
}

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write one tensor of a safetensors file as a .npy file.",
    discussion: """
      F32, F16, U8, I8, F64, I32 tensors keep their type; FP8 and BF16 tensors are decoded exactly \
      to float32 (NumPy has no such types).
      """)

  @Argument(help: "Input .safetensors file.") var file: String
  @Option(help: "Tensor name.") var tensor: String
  @Option(help: "Output .npy file.") var out: String

  func run() throws {
    try TensorExchange.exportNpy(input: file, tensor: tensor, output: out)
  }
}

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write .npy arrays into a new safetensors file (C order, same element type).",
    discussion: "Each argument is NAME=FILE.npy; Fortran-order arrays are transposed to C order.")

  @Argument(help: "NAME=FILE.npy pairs.") var arrays: [String]
  @Option(help: "Output .safetensors file.") var out: String

  func run() throws {
    var pairs: [(name: String, path: String)] = []
    for a in arrays {
      guard let eq = a.firstIndex(of: "=") else { throw ValidationError("expected NAME=FILE.npy, got \(a)") }
      pairs.append((String(a[..<eq]), String(a[a.index(after: eq)...])))
    }
    try TensorExchange.importNpy(pairs, output: out)
  }
}
