import FP8

extension FP8Checkpoint {
  /// Progress of a long operation: fraction of the input's data bytes processed, and the tensor.
  public typealias Progress = (_ fraction: Double, _ tensor: String) -> Void

  /// Dequantises every FP8 tensor of a checkpoint to BF16 or F32 and writes a new file atomically.
  ///
  /// Each FP8 weight becomes `decode(w) · s` in FP32 (one multiply), rounded to nearest-even to
  /// BF16 (DeepSeek-V3's `weight_dequant`) or kept as F32; `s` is the paired scale at the weight's
  /// granularity (see `ScalePairing`), or 1 when the weight has none. Scale tensors (`*_scale`,
  /// `*_scale_inv`) and activation scales (`input_scale`) of paired weights are dropped; all other
  /// tensors are copied byte for byte; names and `__metadata__` are kept.
  @discardableResult
  public static func dequantize(
    input: String, output: String, to outputFormat: ElementFormat = .bf16, isa: ISA = .auto, threads: Int = 0,
    progress: Progress? = nil
  ) throws(CheckpointError) -> [String] {
    guard outputFormat == .bf16 || outputFormat == .f32 || outputFormat == .f16 else {
      throw .kernel(tensor: "", .badFormat("dequantisation target \(outputFormat) (bf16, f16 or f32)"))
    }
    let file: SafetensorsFile
    do { file = try SafetensorsFile(path: input) } catch { throw .file(error) }
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
    try rewrite(file, to: output, entries: entries, order: entries.map { file.info($0.name)! }, progress: progress) {
      (t, src, dst, _) throws -> Bool in
      guard t.dtype.isFP8Value else { return false }
      let (rows, cols) = matrixShape(t.shape)
      var g = ScaleGranularity.perTensor
      var scales: [Float] = [1]
      var mx: [UInt8] = []
      if let p = pairs[t.name] {
        let st = file.info(p.scale)!
        g = p.granularity
        if g == .mxfp8 {
          mx = Array(file.bytes(of: st))
          scales = []
        } else {
          scales = floatScales(st, file.bytes(of: st))
        }
      }
      do throws(FP8Error) {
        try QuantizedTensor.dequantize(
          bits: src, format: t.dtype.elementFormat!, rows: rows, cols: cols, granularity: g, scales: scales,
          mxScales: mx, into: dst, outputFormat: outputFormat, isa: isa, threads: threads)
      } catch {
        throw CheckpointError.kernel(tensor: t.name, error)
      }
      return true
    }
    return converted
  }

  /// Which tensors `quantize` converts: by default 2-D F32/F16/BF16 tensors whose name ends in
  /// "weight" (the linear layers; embeddings and norms named "weight" with rank 1 stay), with
  /// `all` every F32/F16/BF16 tensor of rank ≥ 1.
  public static func shouldQuantize(_ t: SafetensorsTensorInfo, all: Bool) -> Bool {
    guard t.dtype.isWideFloat, !t.shape.isEmpty else { return false }
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
  /// atomically: `X` becomes FP8 (`q = satfinite_RNE(x / s)`, see `Quantizer`) and a scale tensor
  /// is added: F32 [1] (per-tensor), F32 [R, 1] (per-channel), F32 [⌈R/128⌉, ⌈C/128⌉] named
  /// `X_scale_inv` (block128), F8_E8M0 [R, ⌈C/32⌉] (mxfp8). Other tensors and metadata are kept.
  @discardableResult
  public static func quantize(
    input: String, output: String, quantizer: Quantizer, all: Bool = false, progress: Progress? = nil
  ) throws(CheckpointError) -> [String] {
    guard weightGranularities.contains(quantizer.granularity) else {
      throw .kernel(tensor: input, .invalidArgument("\(quantizer.granularity) scales activations, not stored weights"))
    }
    let file: SafetensorsFile
    do { file = try SafetensorsFile(path: input) } catch { throw .file(error) }
    var entries: [SafetensorsWriter.Entry] = []
    var selected: [String] = []
    var names = Set(file.tensors.map(\.name))
    for t in file.tensors {
      guard shouldQuantize(t, all: all) else {
        entries.append(.init(name: t.name, dtype: t.dtype, shape: t.shape))
        continue
      }
      selected.append(t.name)
      let (r, c) = matrixShape(t.shape)
      entries.append(.init(name: t.name, dtype: SafetensorsDType(quantizer.format), shape: t.shape))
      let sname = scaleName(for: t.name, granularity: quantizer.granularity)
      guard names.insert(sname).inserted else { throw .nameCollision(sname) }
      switch quantizer.granularity {
      case .perTensor: entries.append(.init(name: sname, dtype: .f32, shape: [1]))
      case .perChannel: entries.append(.init(name: sname, dtype: .f32, shape: [r, 1]))
      case .tile128: entries.append(.init(name: sname, dtype: .f32, shape: [r, (c + 127) / 128]))
      case .block128: entries.append(.init(name: sname, dtype: .f32, shape: [(r + 127) / 128, (c + 127) / 128]))
      case .mxfp8: entries.append(.init(name: sname, dtype: .f8e8m0, shape: [r, (c + 31) / 32]))
      }
    }
    let selectedSet = Set(selected)
    try rewrite(file, to: output, entries: entries, order: file.tensors, progress: progress) {
      (t, src, dst, writer) throws -> Bool in
      guard selectedSet.contains(t.name) else { return false }
      let (r, c) = matrixShape(t.shape)
      let q: QuantizedTensor
      do throws(FP8Error) {
        q = try quantizer.quantize(raw: src, sourceFormat: t.dtype.elementFormat!, rows: r, cols: c)
      } catch {
        throw CheckpointError.kernel(tensor: t.name, error)
      }
      q.bits.withUnsafeBytes { if $0.count > 0 { dst.copyMemory(from: $0) } }
      let sdst = try writer.buffer(for: scaleName(for: t.name, granularity: quantizer.granularity))
      if quantizer.granularity == .mxfp8 {
        q.mxScales.withUnsafeBytes { if $0.count > 0 { sdst.copyMemory(from: $0) } }
      } else {
        q.scales.withUnsafeBytes { if $0.count > 0 { sdst.copyMemory(from: $0) } }
      }
      return true
    }
    return selected
  }

  /// Writes `entries` to `output` atomically (see `SafetensorsWriter`), visiting `order`'s tensors
  /// with progress: `convert` fills a tensor's output buffer and returns true, or returns false to
  /// have its bytes copied unchanged. Every failure becomes a `CheckpointError`.
  private static func rewrite(
    _ file: SafetensorsFile, to output: String, entries: [SafetensorsWriter.Entry], order: [SafetensorsTensorInfo],
    progress: Progress?,
    convert: (SafetensorsTensorInfo, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer, SafetensorsWriter)
      throws -> Bool
  ) throws(CheckpointError) {
    do {
      let writer = try SafetensorsWriter(path: output, entries: entries, metadata: file.metadata)
      let total = Double(max(1, file.mapping.size - file.header.dataStart))
      var done = 0.0
      for t in order {
        let src = file.bytes(of: t)
        let dst = try writer.buffer(for: t.name)
        progress?(done / total, t.name)
        if try !convert(t, src, dst, writer), src.count > 0 { dst.copyMemory(from: src) }
        done += Double(src.count)
      }
      progress?(1, "")
      try writer.commit()
    } catch let e as CheckpointError {
      throw e
    } catch let e as SafetensorsError {
      throw .file(e)
    } catch {
      throw .file(.invalidArgument("\(error)"))
    }
  }
}
