import FP8
import FP8IO
import Foundation
import MixedPrecision

/// A training run's place in a data-parallel job: its communicator (nil for a single process)
/// and the exchange format. Rank 0 is the one that prints and writes files.
public struct DataParallelRun {
  public let comm: (any Communicator)?
  public let exchange: ExchangeFormat

  public init(comm: (any Communicator)?, exchange: ExchangeFormat) {
    self.comm = comm; self.exchange = exchange
  }

  public var isRoot: Bool { (comm?.rank ?? 0) == 0 }

  /// Makes the trainer's reducer (nil for a single process).
  public func reducer(options: TrainingOptions) -> (Trainer) throws(TrainingError) -> (any StepReducer)? {
    { [comm, exchange] (t) throws(TrainingError) in
      guard let comm else { return nil }
      do throws(DataParallelError) {
        return try GradientExchange(communicator: comm, format: exchange, counts: t.model.config.parameterShapes.map(\.count),
                                    microBatches: options.accumulation, isa: options.isa)
      } catch { throw .invalidArgument(error.detail) }
    }
  }

  /// Reads a checkpoint on rank 0 and hands it to every rank, so that the file need only exist on
  /// rank 0's host.
  public func loadCheckpoint(_ path: String) throws -> Checkpoint {
    guard let comm, comm.size > 1 else { return try Checkpoint.load(from: path) }
    var bytes: [UInt8] = []
    if comm.rank == 0 {
      do throws(FileError) {
        let f = try InputFile(path: path)
        bytes = try f.read(count: f.size, at: 0)
      } catch { throw TrainingError.file(error) }
    }
    var size = [UInt64(bytes.count)]
    try size.withMutableBytes { (b) throws(DataParallelError) in try comm.broadcast(b, root: 0, what: "checkpoint size") }
    if comm.rank != 0 { bytes = [UInt8](repeating: 0, count: Int(size[0])) }
    try bytes.withMutableBytes { (b) throws(DataParallelError) in try comm.broadcast(b, root: 0, what: "checkpoint") }
    if comm.rank == 0 { return try Checkpoint.load(from: path) }
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("fp8emu-resume-\(getpid()).\(UInt32.random(in: 0...UInt32.max))").path
    do throws(FileError) { try OutputFile.write(bytes, to: copy) } catch { throw TrainingError.file(error) }
    defer { try? FileManager.default.removeItem(atPath: copy) }
    do { return try Checkpoint.load(from: copy) } catch .badCheckpoint(let why) {
      throw TrainingError.badCheckpoint(why.replacingOccurrences(of: copy, with: path))
    }
  }
}
