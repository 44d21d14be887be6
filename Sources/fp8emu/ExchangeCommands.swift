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

  /// The NAME=FILE pairs, checked: a name, a file, each name once.
  func pairs() throws -> [(name: String, path: String)] {
    var out: [(name: String, path: String)] = []
    for a in arrays {
      guard let eq = a.firstIndex(of: "="), eq != a.startIndex, a.index(after: eq) != a.endIndex else {
        throw Check.fail("expected NAME=FILE.npy, got \"\(escapedForTerminal(a))\"")
      }
      let name = String(a[..<eq])
      guard name != "__metadata__" else { throw Check.fail("a tensor cannot be named __metadata__") }
      guard !out.contains(where: { $0.name == name }) else { throw Check.fail("the tensor name \(quoted(name)) is given twice") }
      out.append((name, String(a[a.index(after: eq)...])))
    }
    return out
  }

  func validate() throws {
    _ = try pairs()
  }

  func run() throws {
    try TensorExchange.importNpy(try pairs(), output: out)
  }
}
