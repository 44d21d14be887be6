// `fp8-bench int8`: GOP/s of the exact INT8 GEMM against GFLOP/s of our FP32 GEMM (FP32 operands
// through `matmul`, the cfp8_gemm engine) in the same run.
import ArgumentParser
import Deployment
import FP8
import FP8Linalg

struct Int8Bench: ParsableCommand, RepeatedSuite {
  static let configuration = CommandConfiguration(
    commandName: "int8",
    abstract: "INT8 GEMM (INT8×INT8 → INT32) vs our FP32 GEMM: squares 512…2048, 1 thread and all.")

  @OptionGroup var common: RepetitionOptions<Self>

  func run() throws {
    let reps = common.repetitions
    let all = CKernels.maxThreads
    let threadCounts = all > 1 ? [1, all] : [1]
    let sizes = common.quick ? [512, 1024] : [512, 1024, 2048]
    let isas = ISA.supported.filter { $0 != .scalar }
    if !common.json {
      print("INT8 GEMM vs our FP32 GEMM (FP32 operands through matmul, ISA \(ISA.default)); VNNI: \(CKernels.hasAVX512VNNI); median of \(reps)")
      print(pad("M×N×K", 16) + pad("thr", 5) + pad("int8 isa", 10) + pad("INT8 GOP/s", 12) + pad("FP32 GFLOP/s", 14) + "ratio")
    }
    for s in sizes {
      for threads in threadCounts {
        let fp32 = try measureFP32(s, threads: threads, reps: reps)
        for isa in isas {
          let ops = try measureInt8(s, isa: isa, threads: threads, reps: reps)
          if common.json {
            print("{\"suite\":\"int8\",\"m\":\(s),\"n\":\(s),\"k\":\(s),\"threads\":\(threads),\"isa\":\"\(isa)\",\"vnni\":\(isa == .avx512 && CKernels.hasAVX512VNNI),\"int8_gops\":\(fmt(ops)),\"fp32_gflops\":\(fmt(fp32)),\"ratio\":\(fmt(ops / fp32, 2))}")
          } else {
            print(pad("\(s)×\(s)×\(s)", 16) + pad("\(threads)", 5) + pad(isa.description, 10) + pad(fmt(ops), 12) + pad(fmt(fp32), 14) + fmt(ops / fp32, 2) + "×")
          }
        }
      }
    }
  }

  func measureInt8(_ s: Int, isa: ISA, threads: Int, reps: Int) throws -> Double {
    var rng = UInt64(0x1234_5678 &+ UInt64(s))
    func next() -> Int8 {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int8(truncatingIfNeeded: rng >> 56)
    }
    let a = (0..<(s * s)).map { _ in next() }, b = (0..<(s * s)).map { _ in next() }
    let t = try median(reps) { () throws(FP8Error) in _ = try Int8GEMM.multiply(a, b, m: s, n: s, k: s, isa: isa, threads: threads) }
    return 2.0 * Double(s) * Double(s) * Double(s) / t / 1e9
  }

  func measureFP32(_ s: Int, threads: Int, reps: Int) throws -> Double {
    var rng = UInt64(0x8765_4321 &+ UInt64(s))
    func next() -> Float {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int32(truncatingIfNeeded: rng >> 40)) / Float(1 << 23)
    }
    let a = try Matrix(rows: s, columns: s, format: .f32, values: (0..<(s * s)).map { _ in next() })
    let b = try Matrix(rows: s, columns: s, format: .f32, values: (0..<(s * s)).map { _ in next() })
    let t = try median(reps) { () throws(FP8Error) in _ = try matmul(a, b, threads: threads) }
    return 2.0 * Double(s) * Double(s) * Double(s) / t / 1e9
  }
}

/// Median wall time in seconds of `reps` runs of `body` (after one warm-up run).
fileprivate func median(_ reps: Int, _ body: () throws(FP8Error) -> Void) throws(FP8Error) -> Double {
  try body()
  var times: [Double] = []
  for _ in 0..<max(1, reps) { times.append(try seconds(body)) }
  times.sort()
  return times[times.count / 2]
}

fileprivate func fmt(_ x: Double, _ digits: Int = 1) -> String {
  var p = 1.0
  for _ in 0..<digits { p *= 10 }
  return "\((x * p).rounded() / p)"
}
