import FP8
import FP8IO
import Foundation
import Testing
import _TestSupport

@Suite struct SafetensorsTests {
  static func tempPath(_ name: String) -> String {
    NSTemporaryDirectory() + "/fp8io-\(getpid())-\(name)"
  }

  /// The header of the reference writer (safetensors 0.8.0 `save_file` for these tensors and
  /// metadata {"format": "pt"}), copied from its output: our writer must give the same bytes.
  @Test func headerMatchesTheReferenceWriter() throws {
    let entries: [SafetensorsWriter.Entry] = [
      .init(name: "b", dtype: .u8, shape: [3]), .init(name: "a", dtype: .f32, shape: [2]),
      .init(name: "c", dtype: .bf16, shape: [1]), .init(name: "z", dtype: .u8, shape: [1]),
      .init(name: "e", dtype: .f8e4m3, shape: [2]),
    ]
    let (h, _) = try SafetensorsWriter.headerBytes(entries: entries, metadata: ["format": "pt"])
    let reference =
      #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"e":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[10,12]},"b":{"dtype":"U8","shape":[3],"data_offsets":[12,15]},"z":{"dtype":"U8","shape":[1],"data_offsets":[15,16]}}"#
      + "     "
    #expect(String(decoding: h, as: UTF8.self) == reference)
    #expect((8 + h.count) % 8 == 0)
  }

  @Test func writeThenReadRoundTrip() throws {
    var rng = SplitMix64(seed: 1)
    let tensors: [(entry: SafetensorsWriter.Entry, bytes: [UInt8])] = [
      (.init(name: "w", dtype: .f8e5m2, shape: [7, 3]), (0..<21).map { _ in UInt8.random(in: 0...255, using: &rng) }),
      (.init(name: "s", dtype: .f32, shape: []), [0, 0, 0x80, 0x3F]),
      (.init(name: "empty", dtype: .bf16, shape: [0, 5]), []),
      (.init(name: "naïve \"quoted\"\n", dtype: .i8, shape: [2]), [1, 255]),
    ]
    let path = Self.tempPath("rt.safetensors")
    defer { unlink(path) }
    let md = ["format": "pt", "note": "é\t\\"]
    try SafetensorsWriter.write(path: path, tensors: tensors, metadata: md)
    let f = try SafetensorsFile(path: path)
    #expect(f.metadata == md)
    #expect(f.tensors.count == tensors.count)
    for (e, bytes) in tensors {
      let info = try #require(f.info(e.name))
      #expect(info.dtype == e.dtype && info.shape == e.shape)
      #expect(try f.data(of: e.name) == bytes)
    }
    // no temporary file is left behind
    let dir = (path as NSString).deletingLastPathComponent
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("fp8io-\(getpid())-rt") && $0.hasSuffix(".tmp") }
    #expect(leftovers.isEmpty)
  }

  @Test func uncommittedWriterLeavesNothing() throws {
    let path = Self.tempPath("abandoned.safetensors")
    do {
      let w = try SafetensorsWriter(path: path, entries: [.init(name: "x", dtype: .u8, shape: [4])], metadata: nil)
      _ = try w.buffer(for: "x")
    }
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  @Test func writerRejectsBadEntries() {
    #expect(throws: SafetensorsError.duplicateName("a")) {
      _ = try SafetensorsWriter.headerBytes(
        entries: [.init(name: "a", dtype: .u8, shape: [1]), .init(name: "a", dtype: .u8, shape: [1])], metadata: nil)
    }
    #expect(throws: SafetensorsError.self) {
      _ = try SafetensorsWriter.headerBytes(entries: [.init(name: "a", dtype: .u8, shape: [-1])], metadata: nil)
    }
    #expect(throws: SafetensorsError.self) {
      _ = try SafetensorsWriter.headerBytes(entries: [.init(name: "a", dtype: .f4, shape: [3])], metadata: nil)
    }
  }

  @Test func everyDTypeHasTheSpecifiedSize() {
    let bits: [String: Int] = [
      "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
      "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
      "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
    ]
    #expect(Set(SafetensorsDType.allCases.map(\.rawValue)) == Set(bits.keys))
    for d in SafetensorsDType.allCases { #expect(d.bitSize == bits[d.rawValue]) }
  }

  @Test func packedSubByteTensorsAreAccepted() throws {
    let path = Self.tempPath("f4.safetensors")
    defer { unlink(path) }
    try SafetensorsWriter.write(path: path, tensors: [(.init(name: "p", dtype: .f4, shape: [2, 3]), [1, 2, 3])], metadata: nil)
    #expect(try SafetensorsFile(path: path).info("p")?.byteCount == 3)
  }
}
