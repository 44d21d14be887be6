// Run by DataParallelTests under `mpirun -np N`: the exchange over real MPI collectives, checked
// against sums computed without communication, and the fault paths.
//
//   DataParallelCheck exchange [MICRO_BATCHES]   every format; exit 0 when every check holds
//   DataParallelCheck hang SECONDS               the last rank never joins: the others time out
//   DataParallelCheck crash                      rank 1 kills itself during the exchanges
//   DataParallelCheck placement                  prints the rank -> host line
import DataParallel
import FP8
import Foundation
import MixedPrecision
import _TestSupport

let args = CommandLine.arguments.dropFirst()
let mode = args.first ?? "exchange"
let timeout = mode == "hang" ? Double(args.dropFirst().first ?? "2") ?? 2 : 120
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("DataParallelCheck: \(message)\n".utf8))
  exit(1)
}

let comm: MPICommunicator
do {
  guard let c = try Launch.communicator(timeout: timeout) else { fail("not launched by mpirun") }
  comm = c
} catch {
  FileHandle.standardError.write(Data("DataParallelCheck: \(error)\n".utf8))
  exit(error.exitCode)
}

/// The FNV-1a hash of a result's bits, to compare ranks.
func digest(_ t: [[Float]]) -> UInt64 {
  var h: UInt64 = 0xCBF2_9CE4_8422_2325
  for x in t.joined() { h = (h ^ UInt64(x.bitPattern)) &* 0x100_0000_01B3 }
  return h
}

func run(_ comm: MPICommunicator) throws {
  switch mode {
  case "placement":
    let hosts = try comm.hosts()
    if comm.rank == 0 { print(Launch.placement(hosts)) }
  case "hang":
    if comm.rank == comm.size - 1 { sleep(3600) }
    _ = try comm.allGather([Float(comm.rank)], what: "test collective")
  case "crash":
    for step in 0..<1000 {
      if comm.rank == 1 && step == 5 { kill(getpid(), SIGKILL) }
      _ = try comm.allGather([Float(step)], what: "test collective")
      usleep(20_000)
    }
  case "exchange":
    let m = Int(args.dropFirst().first ?? "4") ?? 4
    try exchange(comm, microBatches: m)
  default:
    fail("unknown mode \(mode)")
  }
}

func exchange(_ comm: MPICommunicator, microBatches m: Int) throws {
  let counts = [1000, 300, 129, 1, 0, 256]
  for format in ExchangeFormat.allCases {
    let ex = try GradientExchange(communicator: comm, format: format, counts: counts, microBatches: m)
    for step in 0..<3 {
      let seed = UInt64(step) &* 1_000_003
      let leaf: @Sendable (Int) -> [[Float]] = { i in syntheticGradients(counts: counts, seed: seed, index: i) }
      var mine = StepSums(
        gradients: AccumulationTree.sum(ex.share, leaf: leaf, add: AccumulationTree.add),
        loss: AccumulationTree.sum(ex.share, leaf: { Float($0) * 0.1 + 1 }, add: +),
        maxima: [Float(comm.rank), -Float(comm.rank)])
      // Step 2: one rank's gradients overflow; every rank must skip.
      if step == 2 && comm.rank == comm.size - 1 { mine.gradients![0][7] = .infinity }
      let got = try ex.exchange(mine)

      // The same contributions reduced by threads in this process (no MPI).
      let local = LocalGroup(size: comm.size).run { c -> StepSums in
        let e = try GradientExchange(communicator: c, format: format, counts: counts, microBatches: m)
        var x = StepSums(gradients: AccumulationTree.sum(e.share, leaf: leaf, add: AccumulationTree.add),
                             loss: AccumulationTree.sum(e.share, leaf: { Float($0) * 0.1 + 1 }, add: +),
                             maxima: [Float(c.rank), -Float(c.rank)])
        if step == 2 && c.rank == c.size - 1 { x.gradients![0][7] = .infinity }
        return try e.exchange(x)
      }
      let expected = try local[comm.rank].get()
      let what = "\(format) step \(step) rank \(comm.rank)/\(comm.size)"
      guard got.loss.bitPattern == expected.loss.bitPattern else { fail("\(what): loss \(got.loss) != \(expected.loss)") }
      guard got.maxima == [Float(comm.size - 1), 0] else { fail("\(what): maxima \(got.maxima)") }
      guard got.exchange == expected.exchange || (got.exchange!.sqnrDB.isNaN && expected.exchange!.sqnrDB.isNaN) else {
        fail("\(what): report \(String(describing: got.exchange)) != \(String(describing: expected.exchange))")
      }
      if step == 2 {
        guard got.gradients == nil else { fail("\(what): a rank had Inf, the step was not skipped") }
        continue
      }
      guard let g = got.gradients, let e = expected.gradients, digest(g) == digest(e) else { fail("\(what): sum differs from the in-process one") }
      // Every rank holds the same bits.
      let all = try comm.allGather([Float(bitPattern: UInt32(truncatingIfNeeded: digest(g)))], what: "digest")
      guard all.allSatisfy({ $0[0].bitPattern == all[0][0].bitPattern }) else { fail("\(what): ranks disagree") }
      if format == .fp32 {
        // Bit-identical to one process summing the whole global batch with the same tree.
        let single = AccumulationTree.sum(0..<m, leaf: leaf, add: AccumulationTree.add)
        guard digest(g) == digest(single) else { fail("\(what): differs from the single-process sum") }
      }
      if comm.rank == 0 && step == 0 {
        print("ok \(format): \(comm.size) ranks, \(got.exchange!.gradientBytes) gradient bytes + \(got.exchange!.controlBytes) control bytes per rank, SQNR \(String(format: "%.1f", got.exchange!.sqnrDB)) dB")
      }
    }
  }
}

do { try run(comm) } catch let e as DataParallelError {
  comm.abort("\(e)", code: e.exitCode)
} catch {
  comm.abort("\(error)", code: 70)
}
comm.finalize()
