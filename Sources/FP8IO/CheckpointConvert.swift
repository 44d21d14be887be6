import FP8

extension FP8Checkpoint {
  /// Progress of a long operation: fraction of the input's data bytes processed, and the tensor.
  public typealias Progress = (_ fraction: Double, _ tensor: String) -> Void

  /// Elements per tile when streaming (4 Mi: about 40 MB of buffers whatever the file's size).
  public static let defaultTileElements = 1 << 22

  /// Dequantises every FP8 tensor of a checkpoint to BF16, F16 or F32 and writes a new file
  /// through `OutputFile`, streaming in tiles of about `tileElements` elements.
  ///
  /// Each FP8 weight becomes `decode(w) · s` in FP32 (one multiply), rounded to nearest-even to
  /// BF16 (DeepSeek-V3's `weight_dequant`) or F16, or kept as F32; `s` is the paired scale at the
  /// weight's granularity (see `ScalePairing`), or 1 when the weight has none. Scale tensors
  /// (`*_scale`, `*_scale_inv`) and activation scales (`input_scale`) of paired weights are
  /// dropped; all other tensors are copied byte for byte; names and `__metadata__` are kept.
  @discardableResult
  public static func dequantize(
    input: String, output: String, to outputFormat: ElementFormat = .bf16, isa: ISA = .auto, threads: Int = 0,
    tileElements: Int = defaultTileElements, progress: Progress? = nil
  ) throws(CheckpointError) -> [String] {
    guard outputFormat == .bf16 || outputFormat == .f32 || outputFormat == .f16 else {
      throw .kernel(tensor: "", .badFormat("dequantisation target \(outputFormat) (bf16, f16 or f32)"))
    }
    let file = try open(input)
    let pairs = try pairings(file)
    var dropped = Set<String>()
    for p in pairs.values {
      dropped.insert(p.scale)
      if let i = p.inputScale { dropped.insert(i) }
    }
    var entries: [SafetensorsWriter.Entry] = []
    var converted: [String] = []
    for t in file.tensors where !dropped.contains(t.name) {
      if t.dtype.isFP8Value {
        entries.append(.init(name: t.name, dtype: SafetensorsDType(outputFormat), shape: t.shape))
        converted.append(t.name)
      } else {
        entries.append(.init(name: t.name, dtype: t.dtype, shape: t.shape))
      }
    }
    let budget = max(tileElements, 1)
    try rewrite(file, to: output, entries: entries, skipping: dropped, budget: budget, progress: progress) {
      (t, writer) throws(CheckpointError) in
      guard t.dtype.isFP8Value else { return false }
      let source = try TensorSource(file: file, tensor: t, pairing: pairs[t.name])
      let (rows, cols) = matrixShape(t.shape)
      let grid = TileGrid(rows: rows, cols: cols, rowAlign: source.rowAlign, colAlign: source.colAlign, budget: budget)
      let size = outputFormat.byteSize
      var out = [UInt8](repeating: 0, count: min(rows * cols, grid.rowStep * grid.colStep) * size)
      for tile in grid {
        try out.withMutableBytes { (o) throws(CheckpointError) in
          let dst = UnsafeMutableRawBufferPointer(rebasing: o[0..<(tile.count * size)])
          try source.dequantize(tile, into: dst, as: outputFormat, isa: isa, threads: threads)
          try wrap { () throws(SafetensorsError) in
            try writer.writeBlock(UnsafeRawBufferPointer(dst), tensor: t.name, width: cols, elementSize: size,
                                  rows: tile.rows, cols: tile.cols)
          }
        }
      }
      return true
    }
    return converted
  }

  /// Which tensors `quantize` converts: by default 2-D float tensors (F32, F16, BF16, or FP8,
  /// which is re-quantised from its dequantised values) whose name ends in "weight" (the linear
  /// layers; embeddings and norms named "weight" with rank 1 stay); with `all`, every float tensor
  /// of rank ≥ 1. Scale tensors are never selected.
  public static func shouldQuantize(_ t: SafetensorsTensorInfo, all: Bool) -> Bool {
    guard t.dtype.isWideFloat || t.dtype.isFP8Value, !t.shape.isEmpty else { return false }
    return all || (t.shape.count == 2 && t.name.hasSuffix("weight"))
  }

  /// The granularities of stored weights, the ones `quantize` writes and `pairings` recognises
  /// (1×128 tiles scale activations).
  public static let weightGranularities: [ScaleGranularity] = [.perTensor, .perChannel, .block128, .mxfp8]

  /// The name of the scale tensor written beside a quantised tensor: `X_scale_inv` for block128
  /// (DeepSeek-V3's name), `X_scale` otherwise.
  public static func scaleName(for name: String, granularity: ScaleGranularity) -> String {
    name + (granularity == .block128 ? "_scale_inv" : "_scale")
  }

  /// Quantises the selected tensors of a checkpoint (see `shouldQuantize`) and writes a new file
  /// through `OutputFile`, streaming in tiles of about `tileElements` elements: `X` becomes FP8
  /// (`q = satfinite_RNE(x / s)`, see `Quantizer`) with one scale tensor: F32 [1] (per-tensor), F32
  /// [R, 1] (per-channel), F32 [⌈R/128⌉, ⌈C/128⌉] named `X_scale_inv` (block128), F8_E8M0
  /// [R, ⌈C/32⌉] (mxfp8). A tensor that already has scale tensors (`X_scale_inv`, `X_scale`) has
  /// them replaced: an FP8 `X` is re-quantised from `decode(X) · s`, a wide `X` from its values
  /// (a scale beside a wide tensor applies to nothing). There is never more than one scale per
  /// tensor. Other tensors, activation scales and metadata are kept. The bits equal those of
  /// quantising each whole tensor at once (`Quantizer`), whatever the tile size.
  @discardableResult
  public static func quantize(
    input: String, output: String, quantizer: Quantizer, all: Bool = false, tileElements: Int = defaultTileElements,
    progress: Progress? = nil
  ) throws(CheckpointError) -> [String] {
    guard weightGranularities.contains(quantizer.granularity) else {
      throw .kernel(tensor: input, .invalidArgument("\(quantizer.granularity) scales activations, not stored weights"))
    }
    guard quantizer.format == .e4m3 || quantizer.format == .e5m2 else {
      throw .kernel(tensor: "", .badFormat("quantiser target \(quantizer.format) (e4m3 or e5m2)"))
    }
    let file = try open(input)
    let pairs = try pairings(file)
    var scaleNames = Set<String>()
    for t in file.tensors {
      let (scales, inputScale) = companions(of: t.name, in: file)
      scaleNames.formUnion(scales)
      if let inputScale { scaleNames.insert(inputScale) }
    }
    let selected = file.tensors.filter { !scaleNames.contains($0.name) && shouldQuantize($0, all: all) }
    guard !selected.isEmpty else { throw .nothingToQuantize(all: all) }
    let selectedNames = Set(selected.map(\.name))
    var replaced = Set<String>()
    for t in selected { replaced.formUnion(companions(of: t.name, in: file).scales) }
    var entries: [SafetensorsWriter.Entry] = []
    for t in file.tensors where !replaced.contains(t.name) {
      guard selectedNames.contains(t.name) else {
        entries.append(.init(name: t.name, dtype: t.dtype, shape: t.shape))
        continue
      }
      let (r, c) = matrixShape(t.shape)
      entries.append(.init(name: t.name, dtype: SafetensorsDType(quantizer.format), shape: t.shape))
      let shape: (rows: Int, cols: Int)
      do { shape = try quantizer.granularity.scaleShape(rows: r, cols: c) } catch { throw .kernel(tensor: t.name, error) }
      let sname = scaleName(for: t.name, granularity: quantizer.granularity)
      switch quantizer.granularity {
      case .perTensor: entries.append(.init(name: sname, dtype: .f32, shape: [1]))
      case .perChannel: entries.append(.init(name: sname, dtype: .f32, shape: [r, 1]))
      case .block128: entries.append(.init(name: sname, dtype: .f32, shape: [shape.rows, shape.cols]))
      case .tile128: entries.append(.init(name: sname, dtype: .f32, shape: [shape.rows, shape.cols]))
      case .mxfp8: entries.append(.init(name: sname, dtype: .f8e8m0, shape: [shape.rows, shape.cols]))
      }
    }
    var seen = Set<String>()
    for e in entries where !seen.insert(e.name).inserted { throw .nameCollision(e.name) }
    let budget = max(tileElements, 1)
    try rewrite(file, to: output, entries: entries, skipping: replaced, budget: budget, progress: progress) {
      (t, writer) throws(CheckpointError) in
      guard selectedNames.contains(t.name) else { return false }
      let source = try TensorSource(file: file, tensor: t, pairing: pairs[t.name])
      try quantizeTensor(source, with: quantizer, writer: writer, budget: budget)
      return true
    }
    return selected.map(\.name)
  }

  /// Quantises one tensor tile by tile. Tiles hold whole scale groups of both the source's and the
  /// target's granularity. Where one scale covers more than a tile (per-tensor over several
  /// tiles; per-channel with rows split), a first pass finds each group's amax, and each tile is
  /// quantised with that amax appended (after the tile for per-tensor, after each row for
  /// per-channel), so that the kernel derives the very scale of the whole group.
  private static func quantizeTensor(_ source: TensorSource, with quantizer: Quantizer, writer: SafetensorsWriter, budget: Int)
    throws(CheckpointError)
  {
    let t = source.tensor
    let (rows, cols) = matrixShape(t.shape)
    let g = quantizer.granularity
    let (gRow, gCol) = g == .block128 ? (128, 128) : g == .mxfp8 ? (1, 32) : g == .tile128 ? (1, 128) : (1, 1)
    let grid = TileGrid(
      rows: rows, cols: cols, rowAlign: max(gRow, source.rowAlign), colAlign: max(gCol, source.colAlign), budget: budget)
    let sname = scaleName(for: t.name, granularity: g)
    let scaleShape: (rows: Int, cols: Int)
    do { scaleShape = try g.scaleShape(rows: rows, cols: cols) } catch { throw .kernel(tensor: t.name, error) }
    if rows * cols == 0 {
      // no element: the kernel's scales for an empty tensor (1 where a group exists)
      let q: QuantizedTensor
      do { q = try quantizer.quantize([], rows: rows, cols: cols) } catch { throw .kernel(tensor: t.name, error) }
      try writeScales(q, name: sname, writer: writer)
      return
    }
    let wholeGroups = (g == .perTensor && !grid.isSingleTile) || (g == .perChannel && grid.splitsRows)
    var groupAmax: [Float] = []
    if wholeGroups {
      groupAmax = [Float](repeating: 0, count: g == .perTensor ? 1 : rows)
      for tile in grid {
        let (values, format) = try source.values(tile, quantizer: quantizer)
        let (r, c) = g == .perTensor ? (1, tile.count) : (tile.rows.count, tile.cols.count)
        var a = [Float](repeating: 0, count: r)
        do {
          try values.withBytes { (b) throws(FP8Error) in
            try a.withUnsafeMutableBufferPointer { (p) throws(FP8Error) in
              try CKernels.amax(b.baseAddress, srcFormat: format.rawValue, rows: r, cols: c, ld: c,
                                granularity: (g == .perTensor ? ScaleGranularity.perTensor : .perChannel).cValue, p.baseAddress,
                                isa: quantizer.isa.rawValue, threads: Int32(quantizer.threads))
            }
          }
        } catch { throw .kernel(tensor: t.name, error) }
        for (k, x) in a.enumerated() {
          guard x.isFinite else { throw .nonFiniteValues(tensor: t.name) }
          let i = g == .perTensor ? 0 : tile.rows.lowerBound + k
          groupAmax[i] = max(groupAmax[i], x)
        }
      }
    }
    var wroteTensorScale = false
    for tile in grid {
      let q: QuantizedTensor
      do {
        q = wholeGroups
          ? try quantizeWithAmax(source, tile, g == .perTensor ? [groupAmax[0]] : Array(groupAmax[tile.rows]), quantizer)
          : try source.quantize(tile, quantizer: quantizer)
      } catch let e as CheckpointError {
        throw e
      } catch let e as FP8Error {
        if case .badScale = e { throw .nonFiniteValues(tensor: t.name) }
        throw .kernel(tensor: t.name, e)
      } catch {
        throw .kernel(tensor: t.name, .invalidArgument("\(error)"))
      }
      try wrap { () throws(SafetensorsError) in
        try q.bits.withBytes { (b) throws(SafetensorsError) in
          try writer.writeBlock(b, tensor: t.name, width: cols, elementSize: 1, rows: tile.rows, cols: tile.cols)
        }
      }
      switch g {
      case .perTensor:
        if !wroteTensorScale { try writeScales(q, name: sname, writer: writer) }
        wroteTensorScale = true
      case .perChannel:
        guard tile.cols.lowerBound == 0 else { break }
        try wrap { () throws(SafetensorsError) in
          try q.scales.withBytes { (b) throws(SafetensorsError) in
            try writer.writeBlock(b, tensor: sname, width: 1, elementSize: 4, rows: tile.rows, cols: 0..<1)
          }
        }
      case .block128, .tile128:
        let r = g == .tile128 ? tile.rows : (tile.rows.lowerBound / 128)..<((tile.rows.upperBound + 127) / 128)
        let c = (tile.cols.lowerBound / 128)..<((tile.cols.upperBound + 127) / 128)
        try wrap { () throws(SafetensorsError) in
          try q.scales.withBytes { (b) throws(SafetensorsError) in
            try writer.writeBlock(b, tensor: sname, width: scaleShape.cols, elementSize: 4, rows: r, cols: c)
          }
        }
      case .mxfp8:
        let c = (tile.cols.lowerBound / 32)..<((tile.cols.upperBound + 31) / 32)
        try wrap { () throws(SafetensorsError) in
          try q.mxScales.withBytes { (b) throws(SafetensorsError) in
            try writer.writeBlock(b, tensor: sname, width: scaleShape.cols, elementSize: 1, rows: tile.rows, cols: c)
          }
        }
      }
    }
  }

  /// Quantises a tile whose scale groups extend beyond it: per-tensor (`amax` has one value) as one
  /// row with the tensor's amax appended, per-channel (one amax per tile row) with each row's amax
  /// appended to it; the appended column is dropped from the result. The amax is one of the
  /// tensor's values, so it is exact in the values' own format and is appended in it.
  private static func quantizeWithAmax(_ source: TensorSource, _ tile: TileGrid.Tile, _ amax: [Float], _ quantizer: Quantizer)
    throws -> QuantizedTensor
  {
    let (values, format) = try source.values(tile, quantizer: quantizer)
    let (r, c) = amax.count == 1 ? (1, tile.count) : (tile.rows.count, tile.cols.count)
    let size = format.byteSize
    var padded = [UInt8]()
    padded.reserveCapacity(r * (c + 1) * size)
    for i in 0..<r {
      padded += values[(i * c * size)..<((i + 1) * c * size)]
      switch format {
      case .bf16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: amax[i].bitPattern >> 16).littleEndian) { padded += $0 }
      case .f16: withUnsafeBytes(of: Float16(amax[i]).bitPattern.littleEndian) { padded += $0 }
      default: withUnsafeBytes(of: amax[i].bitPattern.littleEndian) { padded += $0 }
      }
    }
    var q = try padded.withBytes { (b) throws(FP8Error) in try quantizer.quantize(raw: b, sourceFormat: format, rows: r, cols: c + 1) }
    var bits = [UInt8]()
    bits.reserveCapacity(r * c)
    for i in 0..<r { bits += q.bits[(i * (c + 1))..<(i * (c + 1) + c)] }
    q.bits = bits
    return q
  }

  private static func writeScales(_ q: QuantizedTensor, name: String, writer: SafetensorsWriter) throws(CheckpointError) {
    try wrap { () throws(SafetensorsError) in
      if q.granularity == .mxfp8 {
        try q.mxScales.withBytes { (b) throws(SafetensorsError) in try writer.write(b, tensor: name) }
      } else {
        try q.scales.withBytes { (b) throws(SafetensorsError) in try writer.write(b, tensor: name) }
      }
    }
  }

  static func open(_ path: String) throws(CheckpointError) -> SafetensorsFile {
    do { return try SafetensorsFile(path: path) } catch { throw .file(error) }
  }

  static func wrap(_ body: () throws(SafetensorsError) -> Void) throws(CheckpointError) {
    do { try body() } catch { throw .file(error) }
  }

  /// Writes `entries` to `output` (see `SafetensorsWriter`; the input is refused as the output),
  /// visiting the input's tensors in file order with progress, except those `skipping` (dropped,
  /// or replaced by a new tensor of the same name): `convert` writes a tensor itself and returns
  /// true, or returns false to have its bytes copied unchanged (in pieces of `budget` elements'
  /// worth of bytes).
  private static func rewrite(
    _ file: SafetensorsFile, to output: String, entries: [SafetensorsWriter.Entry], skipping: Set<String>, budget: Int,
    progress: Progress?,
    convert: (SafetensorsTensorInfo, SafetensorsWriter) throws(CheckpointError) -> Bool
  ) throws(CheckpointError) {
    let writer: SafetensorsWriter
    do { writer = try SafetensorsWriter(path: output, entries: entries, metadata: file.metadata, inputs: [file.path]) } catch {
      throw .file(error)
    }
    let total = Double(max(1, file.dataSize))
    var done = 0.0
    for t in file.tensors.sorted(by: { $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound }) {
      progress?(done / total, t.name)
      if !skipping.contains(t.name), try !convert(t, writer) {
        try wrap { () throws(SafetensorsError) in try file.copy(t, to: writer, budget: 4 * budget) }
      }
      done += Double(t.byteCount)
    }
    progress?(1, "")
    try wrap { () throws(SafetensorsError) in try writer.commit() }
  }
}
