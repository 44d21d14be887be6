import ArgumentParser
import Dispatch
import FP8
import Foundation

/// `fp8-bench convert`: conversion throughput. Single thread on L2-resident buffers for each
/// SIMD path; ml_dtypes and torch's CPU casts (one thread) timed in the same run when Python can
/// import them; large buffers on all threads against the machine's parallel memcpy bandwidth
/// measured in the same run. Python: $FP8EMU_PYTHON, else this package's pinned `.venv` (built by
/// `.ci/run` from scripts/requirements.txt), else python3 on PATH; the versions are printed.
struct ConvertBench: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "convert", abstract: "FP8 encode/decode throughput.")

  @Option(help: "Elements per L2-resident buffer.") var n: Int = 1 << 16
  @Option(help: "Repetitions (the median is reported).") var reps: Int = 21
  @Option(help: "Size in MiB of the FP32 source for the large-buffer rows (0 to skip).") var largeMib: Int = 1024
  @Flag(help: "One JSON object per row.") var json = false
  @Flag(help: "Skip the ml_dtypes and torch rows.") var noPython = false

  struct Case {
    var name: String, src: ElementFormat, dst: ElementFormat, rounding: Rounding, preset: OverflowPreset, denormal: Bool = false
  }

  func run() throws {
    let cases: [Case] = [
      Case(name: "f32->e4m3 satfinite", src: .f32, dst: .e4m3, rounding: .nearestEven, preset: .cudaSatfinite),
      Case(name: "f32->e4m3 satfinite denormal-in", src: .f32, dst: .e4m3, rounding: .nearestEven, preset: .cudaSatfinite, denormal: true),
      Case(name: "f32->e5m2", src: .f32, dst: .e5m2, rounding: .nearestEven, preset: .cudaSatfinite),
      Case(name: "f32->e4m3 stochastic", src: .f32, dst: .e4m3, rounding: .stochastic(seed: 1), preset: .cudaSatfinite),
      Case(name: "bf16->e4m3", src: .bf16, dst: .e4m3, rounding: .nearestEven, preset: .cudaSatfinite),
      Case(name: "f16->e4m3", src: .f16, dst: .e4m3, rounding: .nearestEven, preset: .cudaSatfinite),
      Case(name: "e4m3->f32", src: .e4m3, dst: .f32, rounding: .nearestEven, preset: .cudaSatfinite),
      Case(name: "e4m3->bf16", src: .e4m3, dst: .bf16, rounding: .nearestEven, preset: .cudaSatfinite),
    ]
    var table: [(String, String, String, Double)] = [] // name, path, threads, gelem/s
    let header = "case                              path      threads  elements      G elem/s"
    if !json { print(header) }
    func emit(_ name: String, _ path: String, _ threads: String, _ elems: Int, _ g: Double, extra: String = "") {
      if json {
        print("{\"suite\":\"convert\",\"case\":\"\(name)\",\"path\":\"\(path)\",\"threads\":\"\(threads)\",\"elements\":\(elems),\"gelem_per_s\":\(String(format: "%.4f", g))\(extra)}")
      } else {
        print(name.padding(toLength: 34, withPad: " ", startingAt: 0) + path.padding(toLength: 10, withPad: " ", startingAt: 0)
              + threads.padding(toLength: 9, withPad: " ", startingAt: 0) + String(elems).padding(toLength: 12, withPad: " ", startingAt: 0)
              + String(format: "%10.3f", g))
      }
      table.append((name, path, threads, g))
    }
    var rng = SystemRandomNumberGenerator()
    let src = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
    let dst = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
    defer { src.deallocate(); dst.deallocate() }
    for c in cases {
      // Inputs: normal values over the format's range (or FP32 denormals), or random FP8 bytes.
      if c.src.isFP8 {
        for i in 0..<n { src.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: i, as: UInt8.self) }
      } else {
        for i in 0..<n {
          let f: Float = c.denormal ? Float(bitPattern: UInt32.random(in: 1..<0x80_0000, using: &rng))
                                    : Float.random(in: -500...500, using: &rng)
          switch c.src {
          case .f32: src.storeBytes(of: f, toByteOffset: 4 * i, as: Float.self)
          case .f16: src.storeBytes(of: Float16(f).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
          default: src.storeBytes(of: UInt16(f.bitPattern >> 16), toByteOffset: 2 * i, as: UInt16.self)
          }
        }
      }
      for isa in ISA.supported {
        let t = try median(reps) { () throws(FP8Error) in
          if c.src.isFP8 {
            try FP8Conversion.decode(src.assumingMemoryBound(to: UInt8.self), format: c.src, into: dst, as: c.dst, count: n, isa: isa, threads: 1)
          } else {
            try FP8Conversion.encode(src, from: c.src, into: dst.assumingMemoryBound(to: UInt8.self), format: c.dst, count: n,
                                     rounding: c.rounding, preset: c.preset, isa: isa, threads: 1)
          }
        }
        emit(c.name, isa.description, "1", n, Double(n) / t / 1e9)
      }
    }
    if !noPython, let py = pythonTimes(n: n, reps: reps) {
      for (library, name, t) in py.rows { emit(name, library, "1", n, Double(n) / t / 1e9) }
      let ours = table.first { $0.0 == "f32->e4m3 satfinite" && $0.1 == ISA.default.description }?.3 ?? 0
      if !json {
        print("baselines: \(py.versions) (\(py.python))")
        for library in ["ml_dtypes", "torch"] {
          guard let base = table.first(where: { $0.1 == library && $0.0 == "f32->e4m3" })?.3, base > 0 else { continue }
          print(String(format: "f32->e4m3 speed-up over %@ (%@, one thread each): %.1fx", library, ISA.default.description, ours / base))
        }
      }
    } else if !noPython, !json {
      print("ml_dtypes: not importable by \(Self.python); rows skipped")
    }
    if largeMib > 0 { try large(emit: emit) }
  }

  /// Large buffers on all threads versus a parallel memcpy measured in the same run.
  func large(emit: (String, String, String, Int, Double, String) -> Void) throws {
    let bytes = largeMib << 20
    let count = bytes / 4
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let a = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
    let b = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
    defer { a.deallocate(); b.deallocate() }
    _ = a.bindMemory(to: Float.self, capacity: count)
    let ai = Int(bitPattern: a), bi = Int(bitPattern: b) // addresses cross into the worker closures
    DispatchQueue.concurrentPerform(iterations: threads) { k in // first touch, in parallel
      let fa = UnsafeMutablePointer<Float>(bitPattern: ai)!, pb = UnsafeMutableRawPointer(bitPattern: bi)!
      let lo = count / threads * k, hi = k == threads - 1 ? count : count / threads * (k + 1)
      for i in lo..<hi { fa[i] = Float(i & 1023) * 0.37 - 150 }
      memset(pb + lo * 4, 0, (hi - lo) * 4)
    }
    let copy = try median(5) { () throws(FP8Error) in
      DispatchQueue.concurrentPerform(iterations: threads) { k in
        let pa = UnsafeMutableRawPointer(bitPattern: ai)!, pb = UnsafeMutableRawPointer(bitPattern: bi)!
        let lo = bytes / threads * k, hi = k == threads - 1 ? bytes : bytes / threads * (k + 1)
        memcpy(pb + lo, pa + lo, hi - lo)
      }
    }
    let copyBW = 2.0 * Double(bytes) / copy // bytes read + written per second
    let enc = try median(5) { () throws(FP8Error) in
      try FP8Conversion.encode(a, from: .f32, into: b.assumingMemoryBound(to: UInt8.self), format: .e4m3, count: count,
                               rounding: .nearestEven, preset: .cudaSatfinite, threads: 0)
    }
    let encBW = 5.0 * Double(count) / enc
    let dec = try median(5) { () throws(FP8Error) in
      try FP8Conversion.decode(b.assumingMemoryBound(to: UInt8.self), format: .e4m3, into: a, as: .f32, count: count, threads: 0)
    }
    let decBW = 5.0 * Double(count) / dec
    let label = "\(largeMib) MiB f32"
    emit("memcpy \(largeMib) MiB (GB/s r+w)", "copy", "\(threads)", bytes, copyBW / 1e9, "")
    emit("f32->e4m3 \(label)", ISA.default.description, "\(threads)", count, Double(count) / enc / 1e9,
         String(format: ",\"gb_per_s\":%.3f,\"fraction_of_copy\":%.3f", encBW / 1e9, encBW / copyBW))
    emit("e4m3->f32 \(label)", ISA.default.description, "\(threads)", count, Double(count) / dec / 1e9,
         String(format: ",\"gb_per_s\":%.3f,\"fraction_of_copy\":%.3f", decBW / 1e9, decBW / copyBW))
    if !json {
      print(String(format: "large buffers: copy %.1f GB/s (read+write); encode %.1f GB/s = %.0f%% of copy; decode %.1f GB/s = %.0f%% of copy",
                   copyBW / 1e9, encBW / 1e9, 100 * encBW / copyBW, decBW / 1e9, 100 * decBW / copyBW))
    }
  }

  /// Median seconds of `reps` runs (after one warm-up run).
  func median(_ reps: Int, _ body: () throws(FP8Error) -> Void) throws(FP8Error) -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<max(1, reps) {
      let t0 = DispatchTime.now().uptimeNanoseconds
      try body()
      times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    times.sort()
    return times[times.count / 2]
  }

  /// $FP8EMU_PYTHON, else the package's `.venv/bin/python3` when it exists, else python3 on PATH.
  static var python: String {
    if let p = ProcessInfo.processInfo.environment["FP8EMU_PYTHON"], !p.isEmpty { return p }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let venv = root.appendingPathComponent(".venv/bin/python3").path
    return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
  }

  /// Median seconds of ml_dtypes' astype and (when importable) torch's CPU `to`, one thread,
  /// from a Python subprocess; nil when ml_dtypes cannot be imported.
  func pythonTimes(n: Int, reps: Int) -> (rows: [(String, String, Double)], versions: String, python: String)? {
    let script = """
      import time, numpy as np, ml_dtypes as m
      n, reps = \(n), \(reps)
      x = (np.random.default_rng(1).random(n, dtype=np.float32) * 1000 - 500).astype(np.float32)
      b = x.astype(m.bfloat16); e = x.astype(m.float8_e4m3fn)
      def med(f):
          f(); ts = []
          for _ in range(reps):
              t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
          return sorted(ts)[len(ts) // 2]
      print("version ml_dtypes", m.__version__)
      print("ml_dtypes f32->e4m3", med(lambda: x.astype(m.float8_e4m3fn)))
      print("ml_dtypes f32->e5m2", med(lambda: x.astype(m.float8_e5m2)))
      print("ml_dtypes bf16->e4m3", med(lambda: b.astype(m.float8_e4m3fn)))
      print("ml_dtypes e4m3->f32", med(lambda: e.astype(np.float32)))
      try:
          import torch
      except ImportError:
          raise SystemExit(0)
      torch.set_num_threads(1)
      print("version torch", torch.__version__)
      tx = torch.from_numpy(x); tb = tx.to(torch.bfloat16); te = tx.to(torch.float8_e4m3fn)
      print("torch f32->e4m3", med(lambda: tx.to(torch.float8_e4m3fn)))
      print("torch f32->e5m2", med(lambda: tx.to(torch.float8_e5m2)))
      print("torch bf16->e4m3", med(lambda: tb.to(torch.float8_e4m3fn)))
      print("torch e4m3->f32", med(lambda: te.to(torch.float32)))
      """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [Self.python, "-c", script]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else { return nil }
    var rows: [(String, String, Double)] = [], versions: [String] = []
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ").map(String.init)
      guard parts.count == 3 else { continue }
      if parts[0] == "version" { versions.append("\(parts[1]) \(parts[2])") }
      else if let t = Double(parts[2]) { rows.append((parts[0], parts[1], t)) } // the library's own conventions
    }
    return rows.isEmpty ? nil : (rows, versions.joined(separator: ", "), Self.python)
  }
}
