import FP8
import FP8IO
import Foundation
import Testing
import _TestSupport

@Suite struct CheckpointTests {
  @Test func granularityFromScaleShape() {
    typealias C = FP8Checkpoint
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [3, 2], scaleDType: .f32) == .block128)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [], scaleDType: .f32) == .perTensor)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [1], scaleDType: .bf16) == .perTensor)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [300, 1], scaleDType: .f32) == .perChannel)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [300], scaleDType: .f32) == .perChannel)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [300, 7], scaleDType: .f8e8m0) == .mxfp8)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [2, 2], scaleDType: .f32) == nil)
    #expect(C.inferGranularity(weightShape: [300, 200], scaleShape: [3, 2], scaleDType: .i32) == nil)
  }

  /// DeepSeek-style file: dequantise to BF16 and compare with w·s[i/128, j/128] computed here
  /// from the FP8 definition (QuantizationTests' reference) with BF16 neighbours compared.
  @Test func dequantiseDeepSeekStyle() throws {
    let dir = NSTemporaryDirectory() + "/fp8io-ckpt-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var rng = SplitMix64(seed: 3)
    let (r, c) = (131, 259)
    let w = (0..<(r * c)).map { _ in UInt8.random(in: 0...0x7E, using: &rng) | (Bool.random(using: &rng) ? 0x80 : 0) }
    let s: [Float] = (0..<6).map { _ in Float.random(in: 1e-4...1e-2, using: &rng) }
    let sBytes = s.withUnsafeBytes { Array($0) }
    let src = dir + "/in.safetensors", dst = dir + "/out.safetensors"
    try SafetensorsWriter.write(
      path: src,
      tensors: [
        (.init(name: "x.weight", dtype: .f8e4m3, shape: [r, c]), w),
        (.init(name: "x.weight_scale_inv", dtype: .f32, shape: [2, 3]), sBytes),
        (.init(name: "n.weight", dtype: .u8, shape: [2]), [9, 8]),
      ], metadata: ["format": "pt"])
    let done = try FP8Checkpoint.dequantize(input: src, output: dst, to: .bf16, isa: .auto)
    #expect(done == ["x.weight"])
    let out = try SafetensorsFile(path: dst)
    #expect(out.tensors.map(\.name) == ["n.weight", "x.weight"])
    #expect(out.metadata == ["format": "pt"])
    #expect(try out.data(of: "n.weight") == [9, 8])
    let y = try out.bytes(of: "x.weight")
    var bad = 0
    for i in 0..<r {
      for j in 0..<c {
        let v = Float(QuantizationReference.fp8Value(w[i * c + j])) * s[(i / 128) * 3 + j / 128]
        let got = y.loadUnaligned(fromByteOffset: 2 * (i * c + j), as: UInt16.self)
        if got != QuantizationReference.bf16(v) { bad += 1 }
      }
    }
    #expect(bad == 0)
  }

  @Test func quantiseSelectsWeightsAndNamesScales() throws {
    let dir = NSTemporaryDirectory() + "/fp8io-q-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let src = dir + "/in.safetensors"
    let w = (0..<(200 * 150)).map { Float($0 % 17) - 8 }
    try SafetensorsWriter.write(
      path: src,
      tensors: [
        (.init(name: "l.weight", dtype: .f32, shape: [200, 150]), w.withUnsafeBytes { Array($0) }),
        (.init(name: "norm.weight", dtype: .f32, shape: [2]), [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]),
        (.init(name: "l.bias", dtype: .f32, shape: [1, 1]), [0, 0, 0x80, 0x3F]),
      ], metadata: nil)
    #expect(throws: CheckpointError.self) {
      try FP8Checkpoint.quantize(input: src, output: dir + "/tiles.safetensors", quantizer: Quantizer(granularity: .tile128))
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/tiles.safetensors"))
    for g in FP8Checkpoint.weightGranularities {
      let dst = dir + "/\(g).safetensors"
      let names = try FP8Checkpoint.quantize(input: src, output: dst, quantizer: Quantizer(granularity: g))
      #expect(names == ["l.weight"])
      let f = try SafetensorsFile(path: dst)
      let scale = FP8Checkpoint.scaleName(for: "l.weight", granularity: g)
      #expect(f.info("l.weight")?.dtype == .f8e4m3)
      #expect(f.info("norm.weight")?.dtype == .f32 && f.info("l.bias")?.dtype == .f32)
      let pairing = try FP8Checkpoint.pairings(f)["l.weight"]
      #expect(pairing?.scale == scale && pairing?.granularity == g)
      // amax 8 in every group: per-tensor / per-channel / block scales are 8/448
      if g != .mxfp8 {
        let s = try f.bytes(of: scale)
        #expect(s.loadUnaligned(as: Float.self) == Float(8) / 448)
      }
    }
    let all = try FP8Checkpoint.quantize(
      input: src, output: dir + "/all.safetensors", quantizer: Quantizer(granularity: .perTensor), all: true)
    #expect(all == ["l.bias", "l.weight", "norm.weight"])
  }

  @Test func statisticsCountSpecialValues() throws {
    // E4M3: 0x00 zero, 0x7E = 448 saturated, 0x7F NaN, 0x38 = 1
    let bytes: [UInt8] = [0x00, 0x7E, 0x7F, 0x38, 0xFE, 0x38, 0x38, 0x00]
    let t = SafetensorsTensorInfo(name: "w", dtype: .f8e4m3, shape: [8], dataOffsets: 0..<8)
    let st = try #require(bytes.withUnsafeBytes { FP8Checkpoint.statistics(t, bytes: $0) })
    #expect(st.amax == 448 && st.nanFraction == 1.0 / 8 && st.saturatedFraction == 2.0 / 8 && st.zeroFraction == 2.0 / 8)
  }
}

/// Reference values from the format definitions (independent of the C tables).
enum QuantizationReference {
  static func fp8Value(_ b: UInt8) -> Double {
    let s: Double = b & 0x80 != 0 ? -1 : 1
    let e = Int(b >> 3) & 15, m = Int(b) & 7
    if e == 15 && m == 7 { return .nan }
    if e == 0 { return s * Double(m) * pow(2, -9) }
    return s * (1 + Double(m) / 8) * pow(2, Double(e - 7))
  }

  static func bf16(_ x: Float) -> UInt16 {
    let lo = x.bitPattern & 0xFFFF_0000
    let hi = lo + 0x1_0000
    let dl = abs(Double(x) - Double(Float(bitPattern: lo)))
    let dh = abs(Double(x) - Double(Float(bitPattern: hi)))
    return UInt16(truncatingIfNeeded: (dl < dh || (dl == dh && (lo >> 16) & 1 == 0) ? lo : hi) >> 16)
  }
}
