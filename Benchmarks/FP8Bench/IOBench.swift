import ArgumentParser
import FP8
import FP8IO
import Foundation

/// `fp8-bench io`: dequantising a block-scaled F8_E4M3 safetensors file to BF16, against this
/// machine's copy bandwidth measured in the same run.
///
/// Bandwidth counts bytes read plus bytes written: a copy of n bytes moves 2n, a dequantisation
/// of n FP8 elements to BF16 moves 3n. Medians of `--reps` runs.
struct IOBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "io", abstract: "Dequantisation of a 1 GiB FP8 checkpoint vs copy bandwidth.")

  @Option(help: "FP8 tensor size in MiB (the tensor is 32768 columns wide).") var sizeMib = 1024
  @Option(help: "Repetitions (median reported).") var reps = 5
  @Option(help: "Folder for the temporary files.") var dir = NSTemporaryDirectory()
  @Flag(help: "Also time the whole file-to-file command (includes writing 2 GiB to disk).") var endToEnd = false
  @Flag(help: "One JSON object per row.") var json = false

  struct Row: Codable {
    var suite = "io"
    var name: String
    var isa: String
    var threads: Int
    var bytesMoved: Int
    var medianSeconds: Double
    var gbPerSecond: Double
    var fractionOfCopy: Double?
  }

  static func median(_ f: () throws -> Void, reps: Int) rethrows -> Double {
    var t: [Double] = []
    for _ in 0..<reps {
      let start = DispatchTime.now().uptimeNanoseconds
      try f()
      t.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    return t.sorted()[t.count / 2]
  }

  func run() throws {
    let cols = 32768
    let rows = max(1, sizeMib * (1 << 20) / cols)
    let n = rows * cols
    let path = dir + "/fp8-bench-io-\(getpid()).safetensors"
    defer { unlink(path) }
    // the input file: random E4M3 codes (no NaN), block scales
    do {
      let sr = (rows + 127) / 128, sc = (cols + 127) / 128
      let w = try SafetensorsWriter(
        path: path,
        entries: [.init(name: "w.weight", dtype: .f8e4m3, shape: [rows, cols]), .init(name: "w.weight_scale_inv", dtype: .f32, shape: [sr, sc])],
        metadata: ["format": "pt"])
      let q = try w.buffer(for: "w.weight")
      var rng = SplitMix64(seed: 0x1234_5678)
      let words = q.bindMemory(to: UInt64.self)
      for k in 0..<words.count {
        words[k] = rng.next() & 0xF7F7_F7F7_F7F7_F7F7  // clear bit 3 of each byte: never 0x7F/0xFF
      }
      let s = try w.buffer(for: "w.weight_scale_inv").bindMemory(to: Float.self)
      for k in 0..<s.count { s[k] = Float(k % 7 + 1) * 1e-3 }
      try w.commit()
    }
    let file = try SafetensorsFile(path: path)
    let src = try file.bytes(of: "w.weight")
    let scales = (0..<(((rows + 127) / 128) * 256)).map { Float($0 % 7 + 1) * 1e-3 }
    let threads = ProcessInfo.processInfo.activeProcessorCount
    var rows_: [Row] = []

    // copy bandwidth: 1 thread and all threads, into a pre-faulted buffer
    let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * n, alignment: 64)
    defer { dst.deallocate() }
    memset(dst.baseAddress!, 0, 2 * n)
    memcpy(dst.baseAddress!, src.baseAddress!, n)  // fault in the page cache
    let copy1 = Self.median({ memcpy(dst.baseAddress!, src.baseAddress!, n) }, reps: reps)
    let (dstAddress, srcAddress) = (Int(bitPattern: dst.baseAddress), Int(bitPattern: src.baseAddress))
    let copyN = Self.median({
      DispatchQueue.concurrentPerform(iterations: threads) { t in
        let lo = n / threads * t, hi = t == threads - 1 ? n : n / threads * (t + 1)
        memcpy(UnsafeMutableRawPointer(bitPattern: dstAddress)! + lo, UnsafeRawPointer(bitPattern: srcAddress)! + lo, hi - lo)
      }
    }, reps: reps)
    let copyBest = max(Double(2 * n) / copy1, Double(2 * n) / copyN)
    rows_.append(Row(name: "memcpy 1 GiB", isa: "-", threads: 1, bytesMoved: 2 * n, medianSeconds: copy1, gbPerSecond: Double(2 * n) / copy1 / 1e9))
    rows_.append(Row(name: "memcpy 1 GiB", isa: "-", threads: threads, bytesMoved: 2 * n, medianSeconds: copyN, gbPerSecond: Double(2 * n) / copyN / 1e9))

    for isa in ISA.supported {
      for t in Set([1, threads]).sorted() {
        let sec = try Self.median({
          try QuantizedTensor.dequantize(
            bits: src, format: .e4m3, rows: rows, cols: cols, granularity: .block128, scales: scales, mxScales: [],
            into: dst, outputFormat: .bf16, isa: isa, threads: t)
        }, reps: isa == .scalar ? max(1, reps / 2) : reps)
        let gbs = Double(3 * n) / sec
        rows_.append(Row(name: "dequant E4M3 block128 -> BF16", isa: isa.description, threads: t, bytesMoved: 3 * n, medianSeconds: sec, gbPerSecond: gbs / 1e9, fractionOfCopy: gbs / copyBest))
      }
    }
    if endToEnd {
      let out = dir + "/fp8-bench-io-out-\(getpid()).safetensors"
      defer { unlink(out) }
      let sec = try Self.median({ try FP8Checkpoint.dequantize(input: path, output: out, to: .bf16) }, reps: max(1, reps / 2))
      let gbs = Double(3 * n) / sec
      rows_.append(Row(name: "fp8emu dequant file -> file (fsync)", isa: ISA.default.description, threads: threads, bytesMoved: 3 * n, medianSeconds: sec, gbPerSecond: gbs / 1e9, fractionOfCopy: gbs / copyBest))
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      for r in rows_ { print(String(decoding: try enc.encode(r), as: UTF8.self)) }
      return
    }
    print("dequantise a \(rows)x\(cols) F8_E4M3 tensor (\(n >> 20) MiB, 128x128 block scales) to BF16; bandwidth = (read + written) bytes / median time")
    print("case                                 isa     threads  median s   GB/s   vs best copy")
    for r in rows_ {
      let frac = r.fractionOfCopy.map { String(format: "%5.0f%%", $0 * 100) } ?? "     -"
      print(
        r.name.padding(toLength: 37, withPad: " ", startingAt: 0) + r.isa.padding(toLength: 8, withPad: " ", startingAt: 0)
          + String(format: "%7d  %8.4f  %6.2f  ", r.threads, r.medianSeconds, r.gbPerSecond) + frac)
    }
  }
}
