// Thread safety: the library called from many Swift tasks at once gives the serial results.
//
// Thread-count control: every kernel takes `threads`; 0 means the OpenMP default
// (omp_get_max_threads: OMP_NUM_THREADS or the core count). Each Swift task that calls a kernel
// is an OpenMP "root" thread with its own team, so T concurrent callers with threads = 0 run up
// to T × cores threads; callers that run kernels concurrently should pass threads = cores / T
// (threads = 1 for one kernel per core). A kernel called from inside an OpenMP parallel region
// does not nest (libomp's default max-active-levels is 1): its region runs on the calling
// thread, so nesting neither deadlocks nor multiplies threads.
import FP8
import FP8Linalg
import Foundation
import Testing
import _TestSupport

@Suite struct ConcurrencyTests {
  struct Job: Sendable {
    let a: Matrix, b: Matrix, scaling: ScalingRecipe, values: [Float], format: ElementFormat
  }

  static func makeJobs() -> [Job] {
    var rng = SplitMix64(seed: 0xC0C0)
    return (0..<8).map { i in
      let (m, n, k) = (33 + 7 * i, 65 - 3 * i, 129 + 31 * i)
      let a = randomMatrix(rows: m, columns: k, format: .e4m3, rng: &rng)
      let b = randomMatrix(rows: k, columns: n, format: i % 2 == 0 ? .e5m2 : .e4m3, layout: .columnMajor, rng: &rng)
      let scaling = randomScaling(["none", "tensor", "rowwise", "block", "mxfp8"][i % 5], m: m, n: n, k: k, rng: &rng)
      let values = (0..<(70_000 + 1000 * i)).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
      return Job(a: a, b: b, scaling: scaling, values: values, format: i % 2 == 0 ? .e4m3 : .e5m2)
    }
  }

  static func run(_ job: Job, threads: Int) throws -> ([UInt8], [UInt8], [Float]) {
    let d = try matmul(job.a, job.b, scaling: job.scaling, isa: .auto, threads: threads).d.storage
    let q = try FP8Conversion.encode(job.values, to: job.format, rounding: .stochastic(seed: 9))
    let back = try FP8Conversion.decode(q, from: job.format)
    return (d, q, back)
  }

  /// 8 GEMMs and conversions from 8 concurrent tasks, with OpenMP inside each (threads 0 = the
  /// default, and 2), give the serial run's bits.
  @Test(arguments: [0, 1, 2])
  func eightConcurrentTasksMatchTheSerialRun(threads: Int) async throws {
    let jobs = Self.makeJobs()
    let serial = try jobs.map { try Self.run($0, threads: 1) }
    for round in 0..<2 {
      let concurrent = try await withThrowingTaskGroup(of: (Int, ([UInt8], [UInt8], [Float])).self) { group in
        for (i, job) in jobs.enumerated() { group.addTask { (i, try Self.run(job, threads: threads)) } }
        var out = [([UInt8], [UInt8], [Float])?](repeating: nil, count: jobs.count)
        for try await (i, r) in group { out[i] = r }
        return out.map { $0! }
      }
      for i in 0..<jobs.count {
        #expect(concurrent[i].0 == serial[i].0, "round \(round) job \(i): GEMM differs")
        #expect(concurrent[i].1 == serial[i].1, "round \(round) job \(i): encode differs")
        #expect(concurrent[i].2.map(\.bitPattern) == serial[i].2.map(\.bitPattern), "round \(round) job \(i): decode differs")
      }
    }
  }

  /// The same jobs on plain threads (not the Swift cooperative pool), each starting an OpenMP
  /// region with the default thread count: no deadlock (the test finishes) and identical bits.
  @Test func concurrentOpenMPRootsFromDetachedThreads() throws {
    let jobs = Self.makeJobs()
    let serial = try jobs.map { try Self.run($0, threads: 1) }
    final class Box: @unchecked Sendable { var results = [([UInt8], [UInt8], [Float])?](repeating: nil, count: 8); let lock = NSLock() }
    let box = Box()
    let done = DispatchGroup()
    for i in jobs.indices {
      done.enter()
      let t = Thread {
        let r = try? Self.run(jobs[i], threads: 0)
        box.lock.lock(); box.results[i] = r; box.lock.unlock()
        done.leave()
      }
      t.start()
    }
    #expect(done.wait(timeout: .now() + 300) == .success, "concurrent OpenMP callers did not finish (deadlock?)")
    for i in 0..<jobs.count {
      guard let r = box.results[i] else { Issue.record("job \(i) failed"); continue }
      #expect(r.0 == serial[i].0 && r.1 == serial[i].1, "job \(i) differs from the serial run")
    }
  }
}
