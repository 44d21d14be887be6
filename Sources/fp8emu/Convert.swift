import ArgumentParser
import FP8
import Foundation

/// `fp8emu convert`: raw little-endian files between element formats.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert a raw little-endian file between element formats (f32, f16, bf16, e4m3, e5m2, e4m3fnuz, e5m2fnuz, e8m0).",
    discussion: """
      Wide -> FP8 encodes with the chosen rounding and preset (one rounding, no intermediate \
      format); FP8 -> wide decodes exactly (E8M0 -> f16 rounds). The output is written to a \
      temporary file in the output's folder and renamed, so a failed run leaves no partial file.
      """)

  @Option(help: "Input format.") var from: String
  @Option(help: "Output format.") var to: String
  @Option(help: "rne | rz | stochastic | up (up: E8M0 only).") var rounding: String = "rne"
  @Option(help: "Seed for stochastic rounding (bits of element i are a hash of (seed, i)).") var seed: UInt64 = 0
  @Option(help: "cuda-satfinite | cuda-nosat | ml-dtypes | pytorch.") var preset: String = "cuda-satfinite"
  @Option(help: "SIMD path: auto | scalar | avx2 | avx512 | neon.") var isa: String = "auto"
  @Argument(help: "Input file.") var input: String
  @Argument(help: "Output file.") var output: String

  func run() throws {
    guard let src = ElementFormat(name: from) else { throw ValidationError("unknown format '\(from)' for --from") }
    guard let dst = ElementFormat(name: to) else { throw ValidationError("unknown format '\(to)' for --to") }
    guard let mode = Rounding(name: rounding, seed: seed) else { throw ValidationError("unknown rounding '\(rounding)' (rne, rz, stochastic, up)") }
    guard let pre = OverflowPreset(rawValue: preset) else {
      throw ValidationError("unknown preset '\(preset)' (\(OverflowPreset.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    guard let path = ISA(name: isa) else { throw ValidationError("unknown isa '\(isa)'") }
    let encode = !src.isFP8 && dst.isFP8, decode = src.isFP8 && !dst.isFP8
    guard encode || decode else {
      throw ValidationError("convert goes between a wide format (f32, f16, bf16) and an FP8 format; got \(src) -> \(dst)")
    }
    guard FileManager.default.fileExists(atPath: input) else { throw ValidationError("no such file: \(input)") }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: input)) } catch {
      throw ValidationError("cannot read \(input): \(error.localizedDescription)")
    }
    guard data.count % src.byteSize == 0 else {
      throw ValidationError("\(input) has \(data.count) bytes, not a multiple of the \(src) element size \(src.byteSize)")
    }
    let n = data.count / src.byteSize
    var out = Data(count: n * dst.byteSize)
    try data.withUnsafeBytes { (s: UnsafeRawBufferPointer) throws in
      try out.withUnsafeMutableBytes { (d: UnsafeMutableRawBufferPointer) throws in
        guard n > 0, let sb = s.baseAddress, let db = d.baseAddress else { return }
        if encode {
          try FP8Conversion.encode(sb, from: src, into: db.assumingMemoryBound(to: UInt8.self), format: dst, count: n,
                                   rounding: mode, preset: pre, isa: path)
        } else {
          try FP8Conversion.decode(sb.assumingMemoryBound(to: UInt8.self), format: src, into: db, as: dst, count: n, isa: path)
        }
      }
    }
    // Write next to the destination, then rename: no partial output on failure.
    let dest = URL(fileURLWithPath: output)
    let tmp = dest.deletingLastPathComponent().appendingPathComponent(".\(dest.lastPathComponent).tmp-\(getpid())")
    do {
      try out.write(to: tmp)
      if FileManager.default.fileExists(atPath: dest.path) { _ = try FileManager.default.replaceItemAt(dest, withItemAt: tmp) }
      else { try FileManager.default.moveItem(at: tmp, to: dest) }
    } catch {
      try? FileManager.default.removeItem(at: tmp)
      throw ValidationError("cannot write \(output): \(error.localizedDescription)")
    }
  }
}
