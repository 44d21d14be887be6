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
    let f = try SafetensorsFile(path: file)
    let w = try SafetensorsWriter(
      path: out, entries: f.tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: f.metadata)
    for t in f.tensors {
      let src = f.bytes(of: t)
      if src.count > 0 { try w.buffer(for: t.name).copyMemory(from: src) }
    }
    try w.commit()
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
    let f = try SafetensorsFile(path: file)
    guard let t = f.info(tensor) else { throw SafetensorsError.tensorNotFound(tensor) }
    let bytes = Array(f.bytes(of: t))
    let array: NpyArray
    switch t.dtype {
    case .f32: array = try NpyArray(dtype: .f32, shape: t.shape, data: bytes)
    case .f16: array = try NpyArray(dtype: .f16, shape: t.shape, data: bytes)
    case .u8: array = try NpyArray(dtype: .u8, shape: t.shape, data: bytes)
    case .i8: array = try NpyArray(dtype: .i8, shape: t.shape, data: bytes)
    case .f64: array = try NpyArray(dtype: .f64, shape: t.shape, data: bytes)
    case .i32: array = try NpyArray(dtype: .i32, shape: t.shape, data: bytes)
    case .bf16:
      let v = (0..<t.elementCount).map { Float(bitPattern: UInt32(bytes[2 * $0]) << 16 | UInt32(bytes[2 * $0 + 1]) << 24) }
      array = try NpyArray(floats: v, shape: t.shape)
    default:
      guard let fmt = t.dtype.elementFormat, fmt.isFP8 else {
        throw ValidationError("cannot export \(t.dtype) to .npy")
      }
      array = try NpyArray(floats: try FP8Conversion.decode(bytes, from: fmt), shape: t.shape)
    }
    try Npy.write(array, path: out)
  }
}

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write .npy arrays into a new safetensors file (C order, same element type).",
    discussion: "Each argument is NAME=FILE.npy; Fortran-order arrays are transposed to C order.")

  @Argument(help: "NAME=FILE.npy pairs.") var arrays: [String]
  @Option(help: "Output .safetensors file.") var out: String

  func run() throws {
    var tensors: [(entry: SafetensorsWriter.Entry, bytes: [UInt8])] = []
    for a in arrays {
      guard let eq = a.firstIndex(of: "=") else { throw ValidationError("expected NAME=FILE.npy, got \(a)") }
      let name = String(a[..<eq]), path = String(a[a.index(after: eq)...])
      let npy = try Npy.read(path: path)
      let dtype: SafetensorsDType
      switch npy.dtype {
      case .f32: dtype = .f32
      case .f16: dtype = .f16
      case .u8: dtype = .u8
      case .i8: dtype = .i8
      case .f64: dtype = .f64
      case .i32: dtype = .i32
      }
      tensors.append((.init(name: name, dtype: dtype, shape: npy.shape), npy.cOrderData()))
    }
    try SafetensorsWriter.write(path: out, tensors: tensors, metadata: nil)
  }
}
