import ArgumentParser
import FP8
import FP8Linalg
import Foundation
import TensorCores

/// `fp8-bench tensorcore`: single-thread GFLOP/s of the exact tensor-core model (H100 FP8 with
/// promotion every 128 and with fast accumulation) against an FP32-FMA GEMM measured in the same
/// run, and a row per GPU preset. The FP32 baseline is the GEMM engine (`FP8Linalg.matmul`, the
/// same E4M3 operands, FP32 FMA accumulation); the tensor-core module's own `.ideal` kernel is
/// shown beside it.
struct TensorCoreBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tensorcore", abstract: "Tensor-core model throughput against FP32 accumulation.")

  @Option(help: "Square sizes M = N = K for the H100 rows.")
  var sizes: [Int] = [1024, 2048]

  @Option(help: "Square size of the per-preset rows.")
  var presetSize = 512

  @Option(help: "Timed runs per row (the median is reported).")
  var repeats = 3

  @Option(help: "Threads (the suite's figures are single-thread).")
  var threads = 1

  @Option(help: "SIMD path: auto, scalar, avx2, avx512.")
  var isa = "auto"

  @Flag(help: "One JSON object per row.")
  var json = false

  func run() throws {
    guard let isa = ISA(name: isa), isa.isSupported else { throw ValidationError("unsupported ISA \(self.isa)") }
    if !json {
      print("tensorcore: E4M3 inputs, \(threads) thread(s), ISA \(isa == .auto ? ISA.default : isa), median of \(repeats)")
      print("size  numerics                     GFLOP/s   % of FP32")
    }
    // .exact: E4M3 with K <= 2^16 runs in FP64 lanes (every addition exact).
    // MX rows: E8M0 scales 2^-7 ... 2^7 per 32 along K; the "scalar" row is the scalar reference
    // that every ISA ran for MX before the SIMD paths took it
    // (the scalar reference runs at the preset size only: at 2048 it takes minutes per repeat)
    for size in sizes { try measure(size: size, rows: [("H100 promoted(128)", .gpu(.h100, accumulation: .promoted)),
                                                        ("H100 fast", .gpu(.h100, accumulation: .fast)),
                                                        (".exact (FP64 sum)", .exact)],
                                    mxRows: [("H100 promoted MX", .gpu(.h100, accumulation: .promoted), nil)], isa: isa) }
    try measure(size: presetSize, rows: GPUArchitecture.presets.map { ("\($0.name) fast", Numerics.gpu($0, accumulation: .fast)) },
                mxRows: [("H100 promoted MX, scalar", .gpu(.h100, accumulation: .promoted), .scalar)], isa: isa)
  }

  private func measure(size n: Int, rows: [(String, Numerics)], mxRows: [(String, Numerics, ISA?)] = [], isa: ISA) throws {
    var rng = SystemRandomNumberGenerator()
    func bytes(_ count: Int) -> [UInt8] {
      (0..<count).map { _ in var v = UInt8.random(in: 0...255, using: &rng); if v & 0x7F == 0x7F { v = 0x38 }; return v }
    }
    let (aBytes, bBytes) = (bytes(n * n), bytes(n * n))
    let a = try TensorCoreOperand(storage: .bytes(aBytes), format: .e4m3, rows: n, cols: n)
    let b = try TensorCoreOperand(storage: .bytes(bBytes), format: .e4m3, rows: n, cols: n)
    let engineA = try Matrix(rows: n, columns: n, format: .e4m3, bits: aBytes)
    let engineB = try Matrix(rows: n, columns: n, format: .e4m3, bits: bBytes)
    let flops = 2.0 * Double(n) * Double(n) * Double(n)
    // round-robin: each repeat times the baseline and every row once, so that the shared
    // machine's noise hits them alike; the median of each is reported
    let kb = (n + 31) / 32
    let mx = TensorCoreScaling.mx(a: (0..<(n * kb)).map { _ in UInt8.random(in: 120...134, using: &rng) },
                                  b: (0..<(kb * n)).map { _ in UInt8.random(in: 120...134, using: &rng) })
    let all: [(String, Numerics?, TensorCoreScaling, ISA)] = [("FP32 GEMM engine (baseline)", nil, .none, isa),
                                                              ("tensor-core .ideal FP32 FMA", .ideal, .none, isa)]
      + rows.map { ($0.0, Optional($0.1), .none, isa) } + mxRows.map { ($0.0, Optional($0.1), mx, $0.2 ?? isa) }
    var times = [[Double]](repeating: [], count: all.count)
    for _ in 0..<max(1, repeats) {
      for (index, (_, numerics, scaling, rowISA)) in all.enumerated() {
        let start = ContinuousClock.now
        if let numerics {
          _ = try TensorCoreGEMM.matmul(a, b, numerics: numerics, scaling: scaling, isa: rowISA, threads: threads)
        } else {
          _ = try FP8Linalg.matmul(engineA, engineB, isa: isa, threads: threads)
        }
        let d = ContinuousClock.now - start
        times[index].append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
      }
    }
    let gflops = times.map { flops / $0.sorted()[$0.count / 2] / 1e9 }
    for (index, (name, _, _, _)) in all.enumerated() { emit(n, name, gflops[index], gflops[0]) }
  }

  private func emit(_ n: Int, _ name: String, _ gflops: Double, _ ideal: Double) {
    let pct = 100 * gflops / ideal
    if json {
      let obj: [String: Any] = ["suite": "tensorcore", "m": n, "n": n, "k": n, "numerics": name, "threads": threads,
                                "gflops": (gflops * 100).rounded() / 100, "percent_of_fp32": (pct * 10).rounded() / 10]
      if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) { print(String(decoding: data, as: UTF8.self)) }
    } else {
      let g = String(format: "%8.2f", gflops), p = String(format: "%9.1f", pct)
      print("\(String(n).padding(toLength: 5, withPad: " ", startingAt: 0)) \(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(g)  \(p)")
    }
  }
}
