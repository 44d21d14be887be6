import FP8
import FP8IO
import Foundation
import Testing
import _TestSupport

/// Streaming `quantize`/`dequantize` in tiles: the output file's bytes do not depend on the tile
/// size, down to tiles of a few elements (a row piece, one 128×128 block, one MX block), for every
/// granularity, source type and shape. The single-tile output is the whole-tensor quantiser's
/// (checked against NumPy by scripts/oracle_safetensors.py).
@Suite struct StreamingTests {
  static let shapes: [[Int]] = [[131, 259], [1, 1000], [257], [3, 4, 70], [0, 5]]
  static let budgets = [5, 300, 30_000]

  static func folder(_ name: String) throws -> String {
    let dir = NSTemporaryDirectory() + "/fp8io-stream-\(getpid())-\(name)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

  /// A file with one tensor per shape in `dtype` (values spread over 2^-12 .. 2^12, some zero
  /// rows), named `tK.weight`, and an untouched `bias`.
  static func wideFile(_ path: String, dtype: SafetensorsDType, seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    var tensors: [(entry: SafetensorsWriter.Entry, bytes: [UInt8])] = []
    for (k, shape) in shapes.enumerated() {
      let n = shape.reduce(1, *)
      let values: [Float] = (0..<n).map { i in
        i % 97 < 3 ? 0 : Float.random(in: -1...1, using: &rng) * Float(pow(2.0, Double(Int.random(in: -12...12, using: &rng))))
      }
      let raw: [UInt8]
      switch dtype {
      case .f16: raw = values.map { Float16($0).bitPattern }.withUnsafeBytes { Array($0) }
      case .bf16: raw = values.map { UInt16($0.bitPattern >> 16) }.withUnsafeBytes { Array($0) }
      default: raw = values.withUnsafeBytes { Array($0) }
      }
      tensors.append((.init(name: "t\(k).weight", dtype: dtype, shape: shape), raw))
    }
    tensors.append((.init(name: "bias", dtype: .f32, shape: [3]), [UInt8](repeating: 0x3F, count: 12)))
    try SafetensorsWriter.write(path: path, tensors: tensors, metadata: ["format": "pt"])
  }

  @Test(arguments: FP8Checkpoint.weightGranularities)
  func quantiseDoesNotDependOnTheTileSize(_ g: ScaleGranularity) throws {
    let dir = try Self.folder("q-\(g)")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let q = Quantizer(granularity: g)
    var sources: [String] = []
    for (k, dtype) in [SafetensorsDType.f32, .f16, .bf16].enumerated() {
      let p = dir + "/\(dtype).safetensors"
      try Self.wideFile(p, dtype: dtype, seed: UInt64(k + 1))
      sources.append(p)
    }
    // FP8 sources with every granularity of scale: re-quantised from decode(q)·s
    for sg in FP8Checkpoint.weightGranularities {
      let p = dir + "/fp8-\(sg).safetensors"
      try FP8Checkpoint.quantize(input: sources[0], output: p, quantizer: Quantizer(granularity: sg), all: true)
      sources.append(p)
    }
    for src in sources {
      let whole = dir + "/whole.safetensors"
      try FP8Checkpoint.quantize(input: src, output: whole, quantizer: q, all: true)
      let reference = try Self.bytes(whole)
      for b in Self.budgets {
        let tiled = dir + "/tiled.safetensors"
        try FP8Checkpoint.quantize(input: src, output: tiled, quantizer: q, all: true, tileElements: b)
        #expect(try Self.bytes(tiled) == reference, "\(src) → \(g), tiles of \(b)")
      }
      // one scale per tensor, never two
      let f = try SafetensorsFile(path: whole)
      for t in f.tensors where t.name.hasSuffix("weight") {
        let scales = [t.name + "_scale", t.name + "_scale_inv"].filter { f.info($0) != nil }
        #expect(scales == [FP8Checkpoint.scaleName(for: t.name, granularity: g)], "\(src) \(t.name)")
      }
    }
  }

  @Test(arguments: FP8Checkpoint.weightGranularities)
  func dequantiseDoesNotDependOnTheTileSize(_ g: ScaleGranularity) throws {
    let dir = try Self.folder("d-\(g)")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let wide = dir + "/wide.safetensors", fp8 = dir + "/fp8.safetensors"
    try Self.wideFile(wide, dtype: .f32, seed: 9)
    try FP8Checkpoint.quantize(input: wide, output: fp8, quantizer: Quantizer(format: .e5m2, granularity: g), all: true)
    for format in [ElementFormat.bf16, .f16, .f32] {
      let whole = dir + "/whole.safetensors"
      try FP8Checkpoint.dequantize(input: fp8, output: whole, to: format)
      let reference = try Self.bytes(whole)
      for b in Self.budgets {
        let tiled = dir + "/tiled.safetensors"
        try FP8Checkpoint.dequantize(input: fp8, output: tiled, to: format, tileElements: b)
        #expect(try Self.bytes(tiled) == reference, "\(g) → \(format), tiles of \(b)")
      }
    }
  }

  /// A wide weight with a stale scale beside it gets one new scale; an FP8 weight with two scales
  /// is refused (which is current cannot be told); a file with nothing to quantise is an error.
  @Test func staleAndAmbiguousScales() throws {
    let dir = try Self.folder("stale")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let one: [UInt8] = [0, 0, 0x80, 0x3F]
    let stale = dir + "/stale.safetensors", out = dir + "/out.safetensors"
    try SafetensorsWriter.write(
      path: stale,
      tensors: [
        (.init(name: "x.weight", dtype: .f32, shape: [2, 2]), one + one + one + [0, 0, 0x80, 0x40]),
        (.init(name: "x.weight_scale_inv", dtype: .f32, shape: [1, 1]), [0, 0, 0xE0, 0x43]),  // 448
      ], metadata: nil)
    try FP8Checkpoint.quantize(input: stale, output: out, quantizer: Quantizer(granularity: .mxfp8))
    let f = try SafetensorsFile(path: out)
    #expect(f.tensors.map(\.name) == ["x.weight", "x.weight_scale"])
    let back = dir + "/back.safetensors"
    try FP8Checkpoint.dequantize(input: out, output: back, to: .f32)
    let values = try SafetensorsFile(path: back).data(of: "x.weight").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    #expect(values == [1, 1, 1, 4])

    let two = dir + "/two.safetensors"
    try SafetensorsWriter.write(
      path: two,
      tensors: [
        (.init(name: "x.weight", dtype: .f8e4m3, shape: [1, 4]), [0x38, 0x38, 0x38, 0x38]),
        (.init(name: "x.weight_scale_inv", dtype: .f32, shape: [1]), one),
        (.init(name: "x.weight_scale", dtype: .f32, shape: [1]), one),
      ], metadata: nil)
    #expect(throws: CheckpointError.ambiguousScale(weight: "x.weight", scales: ["x.weight_scale_inv", "x.weight_scale"])) {
      try FP8Checkpoint.dequantize(input: two, output: out)
    }
    let none = dir + "/none.safetensors"
    try SafetensorsWriter.write(path: none, tensors: [(.init(name: "norm", dtype: .f32, shape: [1]), one)], metadata: nil)
    #expect(throws: CheckpointError.nothingToQuantize(all: false)) {
      try FP8Checkpoint.quantize(input: none, output: out, quantizer: Quantizer(granularity: .perTensor))
    }
  }

  /// NaN in a tensor split into tiles is found by the first pass, before anything is written.
  @Test func nonFiniteValuesAreRefused() throws {
    let dir = try Self.folder("nan")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let src = dir + "/in.safetensors", out = dir + "/out.safetensors"
    var values = [Float](repeating: 1, count: 64)
    values[50] = .nan
    try SafetensorsWriter.write(
      path: src, tensors: [(.init(name: "w.weight", dtype: .f32, shape: [8, 8]), values.withUnsafeBytes { Array($0) })],
      metadata: nil)
    for (g, b) in [(ScaleGranularity.perTensor, 10), (.perTensor, 1 << 20), (.perChannel, 3), (.block128, 1), (.mxfp8, 1)] {
      #expect(throws: CheckpointError.nonFiniteValues(tensor: "w.weight")) {
        try FP8Checkpoint.quantize(input: src, output: out, quantizer: Quantizer(granularity: g), tileElements: b)
      }
      #expect(!FileManager.default.fileExists(atPath: out))
    }
  }

  /// Raw files: every piece size gives the bytes of one whole-array conversion, stochastic
  /// rounding included (element i draws its bits from (seed, i) across pieces).
  @Test func rawConversionDoesNotDependOnThePieceSize() throws {
    let dir = try Self.folder("raw")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var rng = SplitMix64(seed: 4)
    let values = (0..<10_007).map { _ in Float.random(in: -600...600, using: &rng) }
    let src = dir + "/in.f32", out = dir + "/out.bin", back = dir + "/back.f32"
    try OutputFile.write(values.withUnsafeBytes { Array($0) }, to: src)
    for rounding in [Rounding.nearestEven, .towardZero, .stochastic(seed: 77)] {
      let whole = try FP8Conversion.encode(values, to: .e4m3, rounding: rounding, preset: .mlDtypes)
      for chunk in [1, 999, 1 << 22] {
        try RawFileConversion.convert(input: src, output: out, from: .f32, to: .e4m3, rounding: rounding, preset: .mlDtypes,
                                      chunkElements: chunk)
        #expect([UInt8](try Self.bytes(out)) == whole, "\(rounding), pieces of \(chunk)")
      }
    }
    try RawFileConversion.convert(input: out, output: back, from: .e4m3, to: .f32, chunkElements: 1000)
    let decoded = try FP8Conversion.decode([UInt8](try Self.bytes(out)), from: .e4m3)
    #expect(try Self.bytes(back) == decoded.withUnsafeBytes { Data($0) })
    try OutputFile.write([1, 2, 3], to: src)
    #expect(throws: RawConversionError.partialElement(path: src, bytes: 3, format: .f32)) {
      try RawFileConversion.convert(input: src, output: out, from: .f32, to: .e4m3)
    }
    #expect(throws: RawConversionError.notAConversion(from: .f32, to: .bf16)) {
      try RawFileConversion.convert(input: src, output: out, from: .f32, to: .bf16)
    }
  }
}
