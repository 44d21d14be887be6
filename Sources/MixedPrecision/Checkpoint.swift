import Foundation

/// The complete state of a training run: FP32 master weights, AdamW moments and step count, loss
/// scaler, delayed-scaling histories and scales (from which the FP8 weights are re-derived
/// bit for bit: they are re-quantised from the masters at every use), data RNG, step, and the
/// learning-rate multiplier. Restoring it and continuing gives the same losses bit for bit.
public struct Checkpoint: Sendable, Equatable {
  public var options: TrainingOptions
  public var config: TransformerConfig
  public var step: Int
  public var params: [[Float]]
  var adamM: [[Float]]
  var adamV: [[Float]]
  var adamT: Int
  var scaler: LossScaler
  var delayed: [[DelayedScaling]]
  var dataRNG: TrainRNG
  var lrMultiplier: Float
  var lastReduction: Int

  public static func == (a: Checkpoint, b: Checkpoint) -> Bool {
    a.options == b.options && a.config == b.config && a.step == b.step && bitsEqual(a.params, b.params)
      && bitsEqual(a.adamM, b.adamM) && bitsEqual(a.adamV, b.adamV) && a.adamT == b.adamT && a.scaler == b.scaler
      && a.delayed.count == b.delayed.count && a.dataRNG.state == b.dataRNG.state
      && a.lrMultiplier.bitPattern == b.lrMultiplier.bitPattern && a.lastReduction == b.lastReduction
      && zip(a.delayed, b.delayed).allSatisfy { zip($0, $1).allSatisfy { x, y in
        x.scale.bitPattern == y.scale.bitPattern && x.position == y.position && bitsEqual([x.history], [y.history]) } }
  }
}

func bitsEqual(_ a: [[Float]], _ b: [[Float]]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { x, y in x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern } }
}

/// Where checkpoints are written. The binary store below is the format of this build; a
/// safetensors store can take its place behind this protocol.
public protocol CheckpointStore {
  func save(_ c: Checkpoint, to path: String) throws(TrainingError)
  func load(from path: String) throws(TrainingError) -> Checkpoint
}

/// A simple binary checkpoint format:
///
/// ```
/// "FP8EMUCK" (8 bytes) | header length H (UInt64 LE) | H bytes of JSON header | tensor data
/// ```
/// The header holds the options, model shape, scalars (Float scalars as their UInt32 bit
/// patterns, so that they round-trip exactly) and a list of tensors `{name, offset, count}`;
/// tensor data are FP32 little-endian, at byte `offset` from the start of the data section.
struct BinaryCheckpointStore: CheckpointStore {
  init() {}
  static let magic = Array("FP8EMUCK".utf8)

  /// Keys sorted, so that one state gives one file, byte for byte.
  static var headerEncoder: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return e
  }

  struct TensorEntry: Codable { var name: String; var offset: Int; var count: Int }
  struct DelayedEntry: Codable {
    var position: Int; var algorithm: AmaxAlgorithm; var margin: Int; var fp8MaxBits: UInt32; var scaleBits: UInt32
  }
  struct Header: Codable {
    var options: TrainingOptions; var config: TransformerConfig; var step: Int; var adamT: Int
    var scalerDynamic: Bool; var scalerScaleBits: UInt32; var scalerGrowth: Int; var scalerGood: Int; var scalerSkipped: Int
    var delayed: [[DelayedEntry]]; var rngState: UInt64; var lrMultiplierBits: UInt32; var lastReduction: Int
    var tensors: [TensorEntry]
  }

  /// The header (without tensor offsets) and the named FP32 tensors of a checkpoint.
  static func state(_ c: Checkpoint) -> (Header, [(String, [Float])]) {
    var t: [(String, [Float])] = []
    let names = c.config.parameterShapes.map(\.name)
    for (i, n) in names.enumerated() { t.append(("master." + n, c.params[i])) }
    for (i, n) in names.enumerated() { t.append(("adam_m." + n, c.adamM[i])) }
    for (i, n) in names.enumerated() { t.append(("adam_v." + n, c.adamV[i])) }
    for (l, row) in c.delayed.enumerated() { for (k, d) in row.enumerated() { t.append(("amax_history.\(l).\(k)", d.history)) } }
    let header = Header(
      options: c.options, config: c.config, step: c.step, adamT: c.adamT, scalerDynamic: c.scaler.dynamic,
      scalerScaleBits: c.scaler.scale.bitPattern, scalerGrowth: c.scaler.growthInterval, scalerGood: c.scaler.goodSteps,
      scalerSkipped: c.scaler.skippedSteps,
      delayed: c.delayed.map { $0.map { DelayedEntry(position: $0.position, algorithm: $0.algorithm, margin: $0.margin,
                                                    fp8MaxBits: $0.fp8Max.bitPattern, scaleBits: $0.scale.bitPattern) } },
      rngState: c.dataRNG.state, lrMultiplierBits: c.lrMultiplier.bitPattern, lastReduction: c.lastReduction, tensors: [])
    return (header, t)
  }

  func save(_ c: Checkpoint, to path: String) throws(TrainingError) {
    var data = [UInt8]()
    var (header, tensors) = BinaryCheckpointStore.state(c)
    for (name, t) in tensors {
      header.tensors.append(TensorEntry(name: name, offset: data.count, count: t.count))
      data.reserveCapacity(data.count + 4 * t.count)
      for x in t { withUnsafeBytes(of: x.bitPattern.littleEndian) { data += $0 } }
    }
    let json: Data
    do { json = try BinaryCheckpointStore.headerEncoder.encode(header) } catch { throw .io("encoding checkpoint header: \(error)") }
    var out = Data(BinaryCheckpointStore.magic)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(contentsOf: data)
    do { try out.write(to: URL(fileURLWithPath: path)) } catch { throw .io("writing \(path): \(error)") }
  }

  func load(from path: String) throws(TrainingError) -> Checkpoint {
    guard let d = FileManager.default.contents(atPath: path) else { throw .io("cannot read \(path)") }
    let bytes = [UInt8](d)
    guard bytes.count >= 16, Array(bytes[0..<8]) == BinaryCheckpointStore.magic else { throw .badCheckpoint("not an fp8emu checkpoint") }
    var h: UInt64 = 0
    for i in 0..<8 { h |= UInt64(bytes[8 + i]) << (8 * UInt64(i)) }
    guard h <= UInt64(bytes.count - 16) else { throw .badCheckpoint("header length \(h) beyond the file") }
    let header: Header
    do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<16 + Int(h)])) } catch {
      throw .badCheckpoint("header: \(error)")
    }
    let base = 16 + Int(h)
    var tensors: [String: [Float]] = [:]
    for e in header.tensors {
      guard e.offset >= 0, e.count >= 0, e.count <= (bytes.count - base) / 4, base + e.offset + 4 * e.count <= bytes.count else {
        throw .badCheckpoint("tensor \(e.name) beyond the file")
      }
      var t = [Float](repeating: 0, count: e.count)
      for i in 0..<e.count {
        let o = base + e.offset + 4 * i
        t[i] = Float(bitPattern: UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24)
      }
      tensors[e.name] = t
    }
    return try BinaryCheckpointStore.checkpoint(header) { (n) throws(TrainingError) in
      guard let t = tensors[n] else { throw .badCheckpoint("missing tensor \(n)") }
      return t
    }
  }

  /// Rebuilds a checkpoint from its header and a tensor lookup.
  static func checkpoint(_ header: Header, get: (String) throws(TrainingError) -> [Float]) throws(TrainingError) -> Checkpoint {
    let names = header.config.parameterShapes.map(\.name)
    var params: [[Float]] = [], m: [[Float]] = [], v: [[Float]] = []
    for n in names { params.append(try get("master." + n)); m.append(try get("adam_m." + n)); v.append(try get("adam_v." + n)) }
    var delayed: [[DelayedScaling]] = []
    for (l, row) in header.delayed.enumerated() {
      var r: [DelayedScaling] = []
      for (k, e) in row.enumerated() {
        let hist = try get("amax_history.\(l).\(k)")
        guard !hist.isEmpty, e.position >= 0, e.position < hist.count else { throw .badCheckpoint("amax history \(l).\(k)") }
        r.append(DelayedScaling(history: hist, position: e.position, algorithm: e.algorithm, margin: e.margin,
                                fp8Max: Float(bitPattern: e.fp8MaxBits), scale: Float(bitPattern: e.scaleBits)))
      }
      delayed.append(r)
    }
    var scaler = LossScaler(dynamic: header.scalerDynamic, initial: 1, growthInterval: header.scalerGrowth)
    scaler.scale = Float(bitPattern: header.scalerScaleBits); scaler.goodSteps = header.scalerGood; scaler.skippedSteps = header.scalerSkipped
    return Checkpoint(options: header.options, config: header.config, step: header.step, params: params, adamM: m, adamV: v,
                      adamT: header.adamT, scaler: scaler, delayed: delayed, dataRNG: TrainRNG(seed: header.rngState),
                      lrMultiplier: Float(bitPattern: header.lrMultiplierBits), lastReduction: header.lastReduction)
  }
}

extension Checkpoint {
  /// Reads a checkpoint in either layout, told apart by its first bytes: the binary one (it starts
  /// with "FP8EMUCK") or safetensors (what `fp8emu train --save-checkpoint` writes).
  public static func load(from path: String) throws(TrainingError) -> Checkpoint {
    guard let h = FileHandle(forReadingAtPath: path) else { throw .io("cannot read \(path)") }
    let head = [UInt8](h.readData(ofLength: 8))
    try? h.close()
    let store: any CheckpointStore = head == BinaryCheckpointStore.magic ? BinaryCheckpointStore() : SafetensorsCheckpointStore()
    return try store.load(from: path)
  }
}
