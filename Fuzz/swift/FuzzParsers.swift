// libFuzzer entry point for the Swift parsers that take outside bytes. Built by scripts/fuzz.sh
// with `swiftc -sanitize=fuzzer,address` from the parser sources themselves (Sources/FP8 as module
// FP8, the FP8IO reader files compiled into this module, so that libFuzzer's coverage sees them); the
// C kernels are linked in, built with -fsanitize=fuzzer-no-link,address,undefined.
// FP8_FUZZ_TARGET selects the parser: safetensors | npy | vectors | raw.
import FP8
import Foundation

private let target: String = ProcessInfo.processInfo.environment["FP8_FUZZ_TARGET"] ?? "safetensors"
private let scratch = NSTemporaryDirectory() + "fp8-fuzz-\(getpid())"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: size)
  switch target {
  case "safetensors": fuzzSafetensors(bytes)
  case "npy": fuzzNpy(bytes)
  case "vectors": fuzzVectors(bytes)
  case "raw": fuzzRaw(bytes)
  default: fatalError("unknown FP8_FUZZ_TARGET \(target)")
  }
  return 0
}

/// A parsed header's tensors must lie inside the file, in order and without overlap (what the
/// parser promises); reading each tensor's bytes must then be safe.
private func fuzzSafetensors(_ bytes: UnsafeRawBufferPointer) {
  guard let header = try? SafetensorsHeader.parse(bytes) else { return }
  for t in header.tensors {
    precondition(t.dataOffsets.lowerBound >= 0 && t.dataOffsets.upperBound <= bytes.count, "tensor outside the file")
    var count = 1
    for d in t.shape { precondition(d >= 0, "negative dimension accepted"); count *= d }
    _ = count
  }
}

/// A parsed array's data must have exactly product(shape) * itemsize bytes, and re-encoding it
/// must parse back to the same array.
private func fuzzNpy(_ bytes: UnsafeRawBufferPointer) {
  guard let a = try? Npy.parse(bytes) else { return }
  let again = try? Npy.parse(Npy.encode(a))
  precondition(again == a, "npy encode/parse round trip changed the array")
}

/// The real-GPU vector reader parses files: write the input and read it as a hex and a binary file.
private func fuzzVectors(_ bytes: UnsafeRawBufferPointer) {
  try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  let path = scratch + "/v.txt"
  _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
  if let rows = try? TensorCoreVectors.hexRows(path) { precondition(!rows.isEmpty && rows.allSatisfy { !$0.isEmpty }) }
  for expected in [0, 1, 2] { _ = try? TensorCoreVectors.binaryRows(path, required: true, rows: expected) }
}

/// The raw converter (fp8emu convert): two selector bytes pick the formats, rounding, preset
/// and ISA; the rest is the file. Every ISA must give the scalar bits.
private func fuzzRaw(_ bytes: UnsafeRawBufferPointer) {
  guard bytes.count >= 2 else { return }
  let formats = ElementFormat.allCases
  let src = formats[Int(bytes[0]) % formats.count], dst = formats[Int(bytes[0] / 8) % formats.count]
  let roundings: [Rounding] = [.nearestEven, .towardZero, .stochastic(seed: UInt64(bytes[1])), .up]
  let rounding = roundings[Int(bytes[1]) % 4]
  let preset = OverflowPreset.allCases[Int(bytes[1] / 4) % OverflowPreset.allCases.count]
  let payload = Data(bytes[2...])  // Data's storage is aligned, as the converter's file buffer
  let n = payload.count / src.byteSize
  var results: [[UInt8]] = []
  var statuses: [Bool] = []
  for isa in ISA.supported {
    var out = [UInt8](repeating: 0, count: n * dst.byteSize + 1)
    let ok: Bool = payload.withUnsafeBytes { s in
      out.withUnsafeMutableBytes { d in
        guard let sb = s.baseAddress, let db = d.baseAddress else { return false }
        do {
          if !src.isFP8 {
            try FP8Conversion.encode(sb, from: src, into: db.assumingMemoryBound(to: UInt8.self), format: dst, count: n,
                                     rounding: rounding, preset: preset, isa: isa)
          } else {
            try FP8Conversion.decode(sb.assumingMemoryBound(to: UInt8.self), format: src, into: db, as: dst, count: n, isa: isa)
          }
          return true
        } catch { return false }
      }
    }
    statuses.append(ok)
    results.append(out)
  }
  precondition(Set(statuses).count <= 1, "ISAs disagree on success")
  precondition(Set(results).count <= 1, "ISAs disagree on the converted bytes")
}
