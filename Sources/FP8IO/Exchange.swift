import FP8

/// Moving tensors between safetensors and `.npy` files, streamed in pieces of about `budget`
/// bytes (Fortran-order `.npy` input excepted: it is transposed in memory), every output written
/// through `OutputFile`.
public enum TensorExchange {
  /// Rewrites a safetensors file through the validating reader and the writer: tensors, dtypes,
  /// shapes, bytes and metadata are kept; the layout becomes the reference writer's.
  public static func copy(input: String, output: String, budget: Int = 1 << 24) throws(SafetensorsError) {
    let f = try SafetensorsFile(path: input)
    let w = try SafetensorsWriter(
      path: output, entries: f.tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
      metadata: f.metadata, inputs: [input])
    for t in f.tensors { try f.copy(t, to: w, budget: budget) }
    try w.commit()
  }

  /// The `.npy` element type a tensor is exported as: its own for F32, F16, U8, I8, F64 and I32;
  /// float32 (exact) for FP8 and BF16, which NumPy lacks; nil for the others.
  public static func npyType(of dtype: SafetensorsDType) -> NpyDType? {
    if let same = NpyDType.allCases.first(where: { $0.safetensorsDType == dtype }) { return same }
    return dtype == .bf16 || dtype.isFP8Value ? .f32 : nil
  }

  /// Writes one tensor of a safetensors file as a `.npy` file (C order; see `npyType(of:)`).
  /// Throws `SafetensorsError` (no such tensor, no `.npy` type) or `NpyError` (writing).
  public static func exportNpy(input: String, tensor name: String, output: String, budget: Int = 1 << 24) throws {
    let f = try SafetensorsFile(path: input)
    guard let t = f.info(name) else { throw SafetensorsError.tensorNotFound(name) }
    guard let type = npyType(of: t.dtype) else {
      throw SafetensorsError.invalidArgument("tensor \(quoted(name)) is \(t.dtype), which has no .npy equivalent")
    }
    let out: OutputFile
    do {
      out = try OutputFile(path: output, inputs: [input])
      try out.write(Npy.encodeHeader(dtype: type, shape: t.shape, fortranOrder: false))
    } catch { throw NpyError.file(error) }
    let size = max(1, t.dtype.bitSize / 8)
    let step = max(1, budget / 4)  // elements per piece
    var at = 0
    while at < t.elementCount {
      let n = min(step, t.elementCount - at)
      var raw = [UInt8](repeating: 0, count: n * size)
      try raw.withMutableBytes { (b) throws(SafetensorsError) in try f.read(t, range: (at * size)..<((at + n) * size), into: b) }
      var piece = raw
      if t.dtype == .bf16 {
        piece = raw.withUnsafeBytes { b in
          (0..<n).map { Float(bitPattern: UInt32(b.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
        }.withUnsafeBytes { Array($0) }
      } else if t.dtype.isFP8Value, let format = t.dtype.elementFormat {
        piece = try FP8Conversion.decode(raw, from: format).withUnsafeBytes { Array($0) }
      }
      do { try out.write(piece) } catch { throw NpyError.file(error) }
      at += n
    }
    do { try out.commit() } catch { throw NpyError.file(error) }
  }

  /// Writes `.npy` arrays into a new safetensors file as tensors of the same element type in C
  /// order (Fortran-order arrays are transposed). Every input's header is read before the output
  /// is created. Throws `NpyError` (reading) or `SafetensorsError` (names, writing).
  public static func importNpy(_ arrays: [(name: String, path: String)], output: String, budget: Int = 1 << 24) throws {
    var headers: [Npy.Header] = []
    var entries: [SafetensorsWriter.Entry] = []
    for (name, path) in arrays {
      let h = try Npy.header(path: path)
      headers.append(h)
      entries.append(.init(name: name, dtype: h.dtype.safetensorsDType, shape: h.shape))
    }
    let w = try SafetensorsWriter(path: output, entries: entries, metadata: nil, inputs: arrays.map(\.path))
    for ((name, path), h) in zip(arrays, headers) {
      if h.fortranOrder && h.shape.count >= 2 {
        let data = try Npy.read(path: path).cOrderData()
        try data.withBytes { (b) throws(SafetensorsError) in try w.write(b, tensor: name) }
        continue
      }
      let file: InputFile
      do { file = try InputFile(path: path) } catch { throw NpyError.file(error) }
      var at = 0
      while at < h.dataBytes {
        let n = min(max(1, budget), h.dataBytes - at)
        var piece = [UInt8](repeating: 0, count: n)
        do { try piece.withMutableBytes { (b) throws(FileError) in try file.read(into: b, at: h.dataStart + at) } } catch {
          throw NpyError.file(error)
        }
        try piece.withBytes { (b) throws(SafetensorsError) in try w.write(b, tensor: name, at: at) }
        at += n
      }
    }
    try w.commit()
  }
}
