import FP8

/// A tensor of a checkpoint read tile by tile as numbers: a wide tensor (F32, F16, BF16) as
/// stored, an FP8 tensor as `decode(q) · s` with its paired scale (1 without one).
struct TensorSource {
  let file: SafetensorsFile
  let tensor: SafetensorsTensorInfo
  let rows: Int
  let cols: Int
  /// The FP8 format, or nil for a wide tensor.
  let fp8: ElementFormat?
  let scale: SafetensorsTensorInfo?
  /// The scale's granularity (per-tensor with scale 1 when there is none).
  let granularity: ScaleGranularity
  let scaleShape: (rows: Int, cols: Int)
  private let tensorScale: Float

  init(file: SafetensorsFile, tensor t: SafetensorsTensorInfo, pairing: ScalePairing?) throws(CheckpointError) {
    self.file = file
    tensor = t
    (rows, cols) = FP8Checkpoint.matrixShape(t.shape)
    guard let format = t.dtype.elementFormat, t.dtype.isWideFloat || t.dtype.isFP8Value else {
      throw .kernel(tensor: t.name, .badFormat("\(t.dtype) is not a float tensor"))
    }
    fp8 = t.dtype.isFP8Value ? format : nil
    scale = pairing.flatMap { file.info($0.scale) }
    granularity = scale == nil ? .perTensor : pairing!.granularity
    do { scaleShape = try granularity.scaleShape(rows: rows, cols: cols) } catch { throw .kernel(tensor: t.name, error) }
    if let scale, granularity == .perTensor {
      let size = scale.dtype.bitSize / 8
      var bytes = [UInt8](repeating: 0, count: size)
      try FP8Checkpoint.wrap { () throws(SafetensorsError) in
        try bytes.withMutableBytes { (b) throws(SafetensorsError) in try file.read(scale, range: 0..<size, into: b) }
      }
      tensorScale = bytes.withUnsafeBytes { FP8Checkpoint.floatValues(scale.dtype, $0)[0] }
    } else {
      tensorScale = 1
    }
  }

  /// Tiles must start on these multiples to hold whole groups of the source's scale.
  var rowAlign: Int { fp8 != nil && granularity == .block128 ? 128 : 1 }
  var colAlign: Int {
    guard fp8 != nil else { return 1 }
    switch granularity {
    case .block128, .tile128: return 128
    case .mxfp8: return 32
    case .perTensor, .perChannel: return 1
    }
  }

  /// The tile's stored bytes, densely.
  private func raw(_ tile: TileGrid.Tile, elementSize: Int) throws(CheckpointError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: tile.count * elementSize)
    try FP8Checkpoint.wrap { () throws(SafetensorsError) in
      try out.withMutableBytes { (b) throws(SafetensorsError) in
        try file.readBlock(tensor, width: cols, elementSize: elementSize, rows: tile.rows, cols: tile.cols, into: b)
      }
    }
    return out
  }

  /// `decode(q) · s` of an FP8 tile into `out`, stored as `outputFormat` (F32, BF16, F16).
  func dequantize(
    _ tile: TileGrid.Tile, into out: UnsafeMutableRawBufferPointer, as outputFormat: ElementFormat, isa: ISA, threads: Int
  ) throws(CheckpointError) {
    guard let fp8 else { throw .kernel(tensor: tensor.name, .badFormat("\(tensor.dtype) is not FP8")) }
    let q = try raw(tile, elementSize: 1)
    var scales: [Float] = []
    var mx: [UInt8] = []
    if let scale {
      let size = scale.dtype.bitSize / 8
      func block(_ r: Range<Int>, _ c: Range<Int>) throws(CheckpointError) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: r.count * c.count * size)
        try FP8Checkpoint.wrap { () throws(SafetensorsError) in
          try b.withMutableBytes { (p) throws(SafetensorsError) in
            try file.readBlock(scale, width: scaleShape.cols, elementSize: size, rows: r, cols: c, into: p)
          }
        }
        return b
      }
      switch granularity {
      case .perTensor:
        scales = [tensorScale]
      case .perChannel:
        scales = try block(tile.rows, 0..<1).withUnsafeBytes { FP8Checkpoint.floatValues(scale.dtype, $0) }
      case .block128, .tile128:
        let r = granularity == .tile128 ? tile.rows : (tile.rows.lowerBound / 128)..<((tile.rows.upperBound + 127) / 128)
        let c = (tile.cols.lowerBound / 128)..<((tile.cols.upperBound + 127) / 128)
        scales = try block(r, c).withUnsafeBytes { FP8Checkpoint.floatValues(scale.dtype, $0) }
      case .mxfp8:
        mx = try block(tile.rows, (tile.cols.lowerBound / 32)..<((tile.cols.upperBound + 31) / 32))
      }
    } else {
      scales = [1]
    }
    do {
      try q.withBytes { (b) throws(FP8Error) in
        try QuantizedTensor.dequantize(
          bits: b, format: fp8, rows: tile.rows.count, cols: tile.cols.count, granularity: granularity, scales: scales,
          mxScales: mx, into: out, outputFormat: outputFormat, isa: isa, threads: threads)
      }
    } catch { throw .kernel(tensor: tensor.name, error) }
  }

  /// The tile's values as the quantiser reads them: a wide tensor's bytes as stored (F32, F16 or
  /// BF16), an FP8 tensor's `decode(q) · s` as F32 (one multiply). Dense, row-major.
  func values(_ tile: TileGrid.Tile, quantizer: Quantizer) throws(CheckpointError) -> (bytes: [UInt8], format: ElementFormat) {
    guard fp8 != nil else { return (try raw(tile, elementSize: tensor.dtype.bitSize / 8), tensor.dtype.elementFormat!) }
    var out = [UInt8](repeating: 0, count: 4 * tile.count)
    try out.withMutableBytes { (b) throws(CheckpointError) in
      try dequantize(tile, into: b, as: .f32, isa: quantizer.isa, threads: quantizer.threads)
    }
    return (out, .f32)
  }

  /// Quantises a tile that holds whole groups of the quantiser's granularity.
  func quantize(_ tile: TileGrid.Tile, quantizer: Quantizer) throws(CheckpointError) -> QuantizedTensor {
    let (bytes, format) = try values(tile, quantizer: quantizer)
    do {
      return try bytes.withBytes { (b) throws(FP8Error) in
        try quantizer.quantize(raw: b, sourceFormat: format, rows: tile.rows.count, cols: tile.cols.count)
      }
    } catch {
      if case .badScale = error { throw .nonFiniteValues(tensor: tensor.name) }
      throw .kernel(tensor: tensor.name, error)
    }
  }
}
