// `fp8-bench gemm`: GFLOP/s of the FP8 GEMM engine against OpenBLAS SGEMM in the same run.
import ArgumentParser
import FP8
import FP8Linalg
#if canImport(Glibc)
import Glibc
#endif

struct GEMMBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "FP8 GEMM (E4M3×E4M3 → FP32) vs OpenBLAS SGEMM: squares 256…4096, skinny M = 1, 4, 16.")

  @Flag(help: "Fewer sizes and repetitions.") var quick = false
  @Flag(help: "One JSON object per row instead of the table.") var json = false
  @Option(help: "Repetitions per measurement (median reported); default 5, or 3 with --quick.") var reps: Int?
  @Flag(help: "Skip OpenBLAS.") var noOpenblas = false

  struct Row {
    var m: Int, n: Int, k: Int, threads: Int, scaling: String
    var gflops: Double, operandBytes: Int
    var openblasGflops: Double?, openblasBytes: Int
  }

  func run() throws {
    let reps = self.reps ?? (quick ? 3 : 5)
    let blas = noOpenblas ? nil : GEMMOpenBLAS.load()
    let all = CKernels.maxThreads
    let threadCounts = all > 1 ? [1, all] : [1]
    let squares = quick ? [256, 1024, 2048] : [256, 512, 1024, 2048, 4096]
    let skinny = quick ? [(1, 16384), (4, 16384), (16, 4096)] : [1, 4, 16].flatMap { m in [4096, 16384].map { (m, $0) } }
    if !json {
      print("FP8 GEMM, ISA \(ISA.default), \(all) threads available; OpenBLAS: \(blas.map { "core \($0.coreName)" } ?? "not loaded")")
      print("median of \(reps); operands E4M3×E4M3 → FP32; OpenBLAS SGEMM on the decoded FP32 operands")
      print(pad("M×N×K", 20) + pad("thr", 5) + pad("scaling", 9) + pad("GFLOP/s", 10) + pad("MB", 8)
            + pad("OpenBLAS", 10) + pad("MB", 8) + "ratio")
    }
    var shapes: [(Int, Int, Int, String)] = squares.map { ($0, $0, $0, "tensor") }
    shapes += squares.filter { $0 >= 2048 || quick && $0 >= 1024 }.map { ($0, $0, $0, "block") }
    shapes += skinny.map { ($0.0, $0.1, $0.1, "tensor") }
    for (m, n, k, scaling) in shapes {
      for threads in threadCounts {
        if scaling == "block" && threads != 1 { continue }
        let row = try measure(m: m, n: n, k: k, threads: threads, scaling: scaling, reps: reps, blas: blas)
        emit(row, corename: blas?.coreName)
      }
    }
  }

  func measure(m: Int, n: Int, k: Int, threads: Int, scaling: String, reps: Int, blas: GEMMOpenBLAS?) throws -> Row {
    var rng = UInt64(0x9E37_79B9 &* UInt64(m + 3 * n + 7 * k))
    func next() -> UInt8 {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      // finite E4M3 of moderate magnitude: exponent field 1…10, either sign
      let r = UInt8(truncatingIfNeeded: rng >> 33)
      return (r & 0x80) | ((1 + (r >> 3) % 10) << 3) | (r & 7)
    }
    let a = try Matrix(rows: m, columns: k, format: .e4m3, bits: (0..<(m * k)).map { _ in next() })
    let b = try Matrix(rows: k, columns: n, format: .e4m3, bits: (0..<(k * n)).map { _ in next() })
    let recipe: ScalingRecipe
    if scaling == "block" {
      let kb = (k + 127) / 128
      recipe = .blockwise(a: [Float](repeating: 0.5, count: m * kb), b: [Float](repeating: 0.25, count: kb * ((n + 127) / 128)))
    } else {
      recipe = .perTensor(a: 0.5, b: 0.25)
    }
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    let ours = try median(reps) { () throws(FP8Error) in _ = try matmul(a, b, scaling: recipe, threads: threads) }
    var theirs: Double? = nil
    if let blas {
      blas.setThreads?(Int32(threads))
      let af = a.decoded(), bf = b.decoded()
      var c = [Float](repeating: 0, count: m * n)
      theirs = af.withUnsafeBufferPointer { pa in
        bf.withUnsafeBufferPointer { pb in
          c.withUnsafeMutableBufferPointer { pc in
            try! median(reps) { () throws(FP8Error) in
              blas.multiply(m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
            }
          }
        }
      }
    }
    return Row(m: m, n: n, k: k, threads: threads, scaling: scaling, gflops: flops / ours / 1e9,
               operandBytes: m * k + k * n, openblasGflops: theirs.map { flops / $0 / 1e9 }, openblasBytes: 4 * (m * k + k * n))
  }

  func emit(_ r: Row, corename: String?) {
    if json {
      var s = "{\"suite\":\"gemm\",\"m\":\(r.m),\"n\":\(r.n),\"k\":\(r.k),\"threads\":\(r.threads),"
      s += "\"a_format\":\"e4m3\",\"b_format\":\"e4m3\",\"d_format\":\"f32\",\"scaling\":\"\(r.scaling)\","
      s += "\"gflops\":\(fmt(r.gflops)),\"operand_bytes\":\(r.operandBytes)"
      if let o = r.openblasGflops {
        s += ",\"openblas_gflops\":\(fmt(o)),\"openblas_operand_bytes\":\(r.openblasBytes),\"openblas_core\":\"\(corename ?? "")\""
      }
      print(s + "}")
    } else {
      let ratio = r.openblasGflops.map { fmt(r.gflops / $0, 2) + "×" } ?? "-"
      print(pad("\(r.m)×\(r.n)×\(r.k)", 20) + pad("\(r.threads)", 5) + pad(r.scaling, 9) + pad(fmt(r.gflops), 10)
            + pad(fmt(Double(r.operandBytes) / 1e6), 8) + pad(r.openblasGflops.map { fmt($0) } ?? "-", 10)
            + pad(fmt(Double(r.openblasBytes) / 1e6), 8) + ratio)
    }
  }
}

/// Median wall time in seconds of `reps` runs of `body` (after one warm-up run).
fileprivate func median(_ reps: Int, _ body: () throws(FP8Error) -> Void) throws(FP8Error) -> Double {
  try body()
  var times: [Double] = []
  for _ in 0..<max(1, reps) {
    var t0 = timespec(), t1 = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t0)
    try body()
    clock_gettime(CLOCK_MONOTONIC, &t1)
    times.append(Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9)
  }
  times.sort()
  return times[times.count / 2]
}

fileprivate func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }

fileprivate func fmt(_ x: Double, _ digits: Int = 1) -> String {
  var p = 1.0
  for _ in 0..<digits { p *= 10 }
  let r = (x * p).rounded() / p
  var s = "\(r)"
  if let dot = s.firstIndex(of: ".") {
    let decimals = s.distance(from: dot, to: s.endIndex) - 1
    if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
  }
  return s
}
