import FP8
import FP8IO
import Foundation

/// Checkpoints in safetensors (the FP8IO writer): every FP32 state tensor as `F32`
/// (`master.*`, `adam_m.*`, `adam_v.*`, `amax_history.L.K`), the FP8 weights the next step will
/// use as `F8_E4M3` (`fp8.<linear>.weight`, per-tensor E4M3 with the delayed scale or the current
/// amax scale) with their `F32` inverse scales (`fp8.<linear>.scale_inv`), and the scalar state
/// (options, step, loss scaler, delayed-scaling positions and scales, RNG) as JSON in the
/// `__metadata__` entry `fp8emu.state`. The FP8 weights are informational: a resumed run
/// re-quantises them from the masters, which gives the same bits.
public struct SafetensorsCheckpointStore: CheckpointStore {
  public init() {}

  public func save(_ c: Checkpoint, to path: String) throws(TrainingError) {
    let (header, tensors) = BinaryCheckpointStore.state(c)
    var items: [(entry: SafetensorsWriter.Entry, bytes: [UInt8])] = []
    func f32(_ name: String, _ t: [Float]) {
      var b = [UInt8](); b.reserveCapacity(4 * t.count)
      for x in t { withUnsafeBytes(of: x.bitPattern.littleEndian) { b += $0 } }
      items.append((SafetensorsWriter.Entry(name: name, dtype: .f32, shape: [t.count]), b))
    }
    for (n, t) in tensors { f32(n, t) }
    var recipe = c.options.recipe.implementation.init(options: c.options, linearNames: c.config.linearNames)
    try recipe.restore(scalingState: c.delayed)
    for (l, name) in c.config.linearNames.enumerated() where !c.options.highPrecisionLayers.contains(name) && c.options.recipe.isFP8 {
      let w = c.params[c.config.weightIndex(ofLinear: l)]
      // The recipe's per-tensor weight scale when it keeps one (delayed scaling), else the current amax's.
      var cast = FP8Cast(format: .e4m3, granularity: .perTensor, scale: .current(powerOfTwo: false))
      if case .fp8(let own) = recipe.cast(at: CastSite(linear: l, kind: .weight, role: .forward)), case .fixed = own.scale { cast.scale = own.scale }
      let rows = w.count / max(1, c.config.d)
      guard let (q, _, _) = try? cast.apply(w, rows: rows, cols: w.count / max(1, rows)) else { continue }
      items.append((SafetensorsWriter.Entry(name: "fp8.\(name).weight", dtype: .f8e4m3, shape: [rows, w.count / max(1, rows)]), q.bits))
      f32("fp8.\(name).scale_inv", q.scales)
    }
    let json: Data
    do { json = try BinaryCheckpointStore.headerEncoder.encode(header) } catch { throw .io("encoding checkpoint state: \(error)") }
    do {
      try SafetensorsWriter.write(path: path, tensors: items, metadata: ["fp8emu.state": String(decoding: json, as: UTF8.self)])
    } catch { throw .io("writing \(path): \(error)") }
  }

  public func load(from path: String) throws(TrainingError) -> Checkpoint {
    let file: SafetensorsFile
    do { file = try SafetensorsFile(path: path) } catch { throw .badCheckpoint("\(path): \(error)") }
    guard let state = file.metadata?["fp8emu.state"] else { throw .badCheckpoint("no fp8emu.state metadata") }
    let header: BinaryCheckpointStore.Header
    do { header = try JSONDecoder().decode(BinaryCheckpointStore.Header.self, from: Data(state.utf8)) } catch {
      throw .badCheckpoint("state: \(error)")
    }
    return try BinaryCheckpointStore.checkpoint(header) { (n) throws(TrainingError) in
      guard let info = file.info(n), info.dtype == .f32 else { throw .badCheckpoint("missing F32 tensor \(n)") }
      let raw: UnsafeRawBufferPointer
      do { raw = try file.bytes(of: n) } catch { throw .badCheckpoint("\(n): \(error)") }
      var t = [Float](repeating: 0, count: raw.count / 4)
      for i in t.indices { t[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
      return t
    }
  }
}
