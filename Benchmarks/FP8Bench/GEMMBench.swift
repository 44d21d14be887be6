// `fp8-bench gemm`: GFLOP/s of the FP8 GEMM engine against OpenBLAS SGEMM in the same run.
import ArgumentParser
import FP8
import FP8Linalg
#if canImport(Glibc)
import Glibc
#endif

struct GEMMBench: ParsableCommand, RepeatedSuite {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "FP8 GEMM (E4M3×E4M3 → FP32) vs OpenBLAS SGEMM: squares 256…4096, skinny M = 1, 4, 16.")

  @OptionGroup var common: RepetitionOptions<Self>
  @Flag(help: "Skip OpenBLAS.") var noOpenblas = false
  @Flag(help: """
    Time by process CPU time instead of wall time: robust on a shared machine for 1-thread rows; \
    for multi-thread rows it gives GFLOP per CPU-second (per-core efficiency), not speed.
    """) var cpuTime = false

  struct Row {
    var m: Int, n: Int, k: Int, threads: Int, scaling: String, bLayout: MatrixLayout
    var gflops: Double, operandBytes: Int
    var openblasGflops: Double?, openblasBytes: Int
  }

  func run() throws {
    let reps = common.repetitions
    // Two OpenMP runtimes share two cores here (LLVM libomp for ours, GNU libgomp inside Debian's
    // OpenBLAS); threads that spin after a parallel region would steal the other library's cores.
    // Passive waiting, set before either runtime starts, keeps the alternating timings fair.
    if getenv("OMP_WAIT_POLICY") == nil { setenv("OMP_WAIT_POLICY", "PASSIVE", 1) }
    let blas = noOpenblas ? nil : GEMMOpenBLAS.load()
    let all = CKernels.maxThreads
    let threadCounts = all > 1 ? [1, all] : [1]
    let squares = common.quick ? [256, 1024, 2048] : [256, 512, 1024, 2048, 4096]
    let skinny = common.quick ? [(1, 16384), (4, 16384), (16, 4096)] : [1, 4, 16].flatMap { m in [4096, 16384].map { (m, $0) } }
    if !common.json {
      print("FP8 GEMM, ISA \(ISA.default), \(all) threads available; OpenBLAS: \(blas.map { "core \($0.coreName)" } ?? "not loaded")")
      print("median of \(reps), alternating with OpenBLAS SGEMM (on the decoded FP32 operands); E4M3×E4M3 → FP32; "
            + (cpuTime ? "timed by process CPU time" : "timed by wall clock"))
      print(pad("M×N×K", 20) + pad("thr", 5) + pad("scaling", 9) + pad("GFLOP/s", 10) + pad("MB", 8)
            + pad("OpenBLAS", 10) + pad("MB", 8) + "ratio")
    }
    var shapes: [(Int, Int, Int, String, MatrixLayout)] = squares.map { ($0, $0, $0, "tensor", .rowMajor) }
    shapes += squares.filter { $0 >= 2048 || common.quick && $0 >= 1024 }.map { ($0, $0, $0, "block", .rowMajor) }
    shapes += skinny.map { ($0.0, $0.1, $0.1, "tensor", .rowMajor) }
    // B = Wᵀ stored column-major (an N×K row-major weight), as nn.Linear keeps it
    shapes += [1, 4].map { ($0, 16384, 16384, "tensor", .columnMajor) }
    for (m, n, k, scaling, bLayout) in shapes {
      for threads in threadCounts {
        if scaling == "block" && threads != 1 { continue }
        let row = try measure(m: m, n: n, k: k, threads: threads, scaling: scaling, bLayout: bLayout, reps: reps,
                              blas: blas)
        emit(row, corename: blas?.coreName)
      }
    }
  }

  func measure(
    m: Int, n: Int, k: Int, threads: Int, scaling: String, bLayout: MatrixLayout, reps: Int, blas: GEMMOpenBLAS?
  ) throws -> Row {
    var rng = UInt64(0x9E37_79B9 &* UInt64(m + 3 * n + 7 * k))
    func next() -> UInt8 {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      // finite E4M3 of moderate magnitude: exponent field 1…10, either sign
      let r = UInt8(truncatingIfNeeded: rng >> 33)
      return (r & 0x80) | ((1 + (r >> 3) % 10) << 3) | (r & 7)
    }
    let a = try Matrix(rows: m, columns: k, format: .e4m3, bits: (0..<(m * k)).map { _ in next() })
    let b = try Matrix(rows: k, columns: n, format: .e4m3, layout: bLayout, bits: (0..<(k * n)).map { _ in next() })
    let recipe: ScalingRecipe
    if scaling == "block" {
      let kb = (k + 127) / 128
      recipe = .blockwise(a: [Float](repeating: 0.5, count: m * kb), b: [Float](repeating: 0.25, count: kb * ((n + 127) / 128)))
    } else {
      recipe = .perTensor(a: 0.5, b: 0.25)
    }
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    // The machine is shared: the two libraries run alternately, rep by rep, so that load from
    // elsewhere hits both alike; medians of each.
    // OpenBLAS gets the same operands in the same layouts (B column-major = transposed K×N)
    let af = blas == nil ? [] : a.decoded()
    let bf = blas == nil ? [] : (bLayout == .rowMajor ? b.decoded() : b.transposed.decoded())
    var c = [Float](repeating: 0, count: blas == nil ? 0 : m * n)
    blas?.setThreads?(Int32(threads))
    var ours: [Double] = [], theirs: [Double] = []
    try af.withUnsafeBufferPointer { (pa) throws(FP8Error) in
      try bf.withUnsafeBufferPointer { (pb) throws(FP8Error) in
        try c.withUnsafeMutableBufferPointer { (pc) throws(FP8Error) in
          for rep in 0...max(1, reps) {  // rep 0 warms up
            let t = try seconds(cpu: cpuTime) { () throws(FP8Error) in _ = try matmul(a, b, scaling: recipe, threads: threads) }
            if rep > 0 { ours.append(t) }
            if let blas {
              let u = try seconds(cpu: cpuTime) { () throws(FP8Error) in
                blas.multiply(m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, bTransposed: bLayout == .columnMajor,
                              c: pc.baseAddress!)
              }
              if rep > 0 { theirs.append(u) }
            }
          }
        }
      }
    }
    let theirsMedian: Double? = theirs.isEmpty ? nil : medianOf(theirs)
    let oursMedian = medianOf(ours)
    return Row(m: m, n: n, k: k, threads: threads, scaling: scaling, bLayout: bLayout, gflops: flops / oursMedian / 1e9,
               operandBytes: m * k + k * n, openblasGflops: theirsMedian.map { flops / $0 / 1e9 },
               openblasBytes: 4 * (m * k + k * n))
  }

  func emit(_ r: Row, corename: String?) {
    if common.json {
      var s = "{\"suite\":\"gemm\",\"m\":\(r.m),\"n\":\(r.n),\"k\":\(r.k),\"threads\":\(r.threads),"
      s += "\"a_format\":\"e4m3\",\"b_format\":\"e4m3\",\"d_format\":\"f32\",\"scaling\":\"\(r.scaling)\","
      s += "\"b_layout\":\"\(r.bLayout == .rowMajor ? "row" : "column")\","
      s += "\"gflops\":\(fmt(r.gflops)),\"operand_bytes\":\(r.operandBytes),\"timing\":\"\(cpuTime ? "cpu" : "wall")\""
      if let o = r.openblasGflops {
        s += ",\"openblas_gflops\":\(fmt(o)),\"openblas_operand_bytes\":\(r.openblasBytes),\"openblas_core\":\"\(corename ?? "")\""
      }
      print(s + "}")
    } else {
      let ratio = r.openblasGflops.map { fmt(r.gflops / $0, 2) + "×" } ?? "-"
      print(pad("\(r.m)×\(r.n)×\(r.k)" + (r.bLayout == .columnMajor ? " Bᵀ" : ""), 20) + pad("\(r.threads)", 5) + pad(r.scaling, 9) + pad(fmt(r.gflops), 10)
            + pad(fmt(Double(r.operandBytes) / 1e6), 8) + pad(r.openblasGflops.map { fmt($0) } ?? "-", 10)
            + pad(fmt(Double(r.openblasBytes) / 1e6), 8) + ratio)
    }
  }
}

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
