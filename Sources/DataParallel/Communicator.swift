import Foundation

/// The collectives data-parallel training needs among `size` processes that run the same steps.
/// Sums are never left to the transport: every rank gathers every rank's bytes and combines them
/// itself in a fixed order, so the result does not depend on the transport's reduction order.
public protocol Communicator: AnyObject {
  var rank: Int { get }
  var size: Int { get }
  /// The host this rank runs on.
  var host: String { get }
  /// Every rank contributes `send` (the same byte count on every rank); `receive`
  /// (`size × send.count` bytes) gets rank 0's bytes, then rank 1's, and so on.
  /// `what` names the collective in errors.
  func allGather(_ send: UnsafeRawBufferPointer, into receive: UnsafeMutableRawBufferPointer, what: String) throws(DataParallelError)
  /// Copies `root`'s `buffer` into every rank's `buffer` (the same byte count everywhere).
  func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int, what: String) throws(DataParallelError)
  /// Ends every rank of the job after printing `message` (one line) on this rank's standard error.
  func abort(_ message: String, code: Int32) -> Never
}

extension Communicator {
  /// "rank r/N (host)", the prefix of this rank's messages.
  public var label: String { "rank \(rank)/\(size) (\(host))" }

  /// Gathers an array of `Float` of the same length from every rank: element `[r][i]` is rank r's.
  public func allGather(_ values: [Float], what: String) throws(DataParallelError) -> [[Float]] {
    var all = [Float](repeating: 0, count: values.count * size)
    try values.withBytes { (s) throws(DataParallelError) in
      try all.withMutableBytes { (r) throws(DataParallelError) in try allGather(s, into: r, what: what) }
    }
    return (0..<size).map { r in Array(all[r * values.count..<(r + 1) * values.count]) }
  }

  /// Every rank's host name, by rank.
  public func hosts() throws(DataParallelError) -> [String] {
    let width = 256
    var mine = [UInt8](repeating: 0, count: width)
    for (i, b) in host.utf8.prefix(width - 1).enumerated() { mine[i] = b }
    var all = [UInt8](repeating: 0, count: width * size)
    try mine.withBytes { (s) throws(DataParallelError) in
      try all.withMutableBytes { (r) throws(DataParallelError) in try allGather(s, into: r, what: "host names") }
    }
    return (0..<size).map { r in String(decoding: all[r * width..<(r + 1) * width].prefix { $0 != 0 }, as: UTF8.self) }
  }
}

/// The communicator of a job launched by Open MPI's `mpirun`: MPI_COMM_WORLD, with every
/// collective non-blocking and polled against a deadline (`timeout` seconds), past which the job
/// is aborted with a message naming the collective, instead of hanging.
public final class MPICommunicator: Communicator {
  let mpi: OpenMPI
  public let rank: Int
  public let size: Int
  public let host: String
  /// Seconds a collective may wait for the slowest rank.
  public var timeout: Double
  var finalized = false

  /// Loads Open MPI and initialises MPI; MPI errors are returned, not fatal.
  public init(timeout: Double, library: String? = nil) throws(DataParallelError) {
    mpi = try OpenMPI(library: library)
    var provided: Int32 = 0
    let rc = mpi.initThread(nil, nil, OpenMPI.threadFunneled, &provided)
    guard rc == 0 else { throw .mpiUnavailable("MPI_Init_thread failed: \(mpi.describe(rc))") }
    guard mpi.commSetErrhandler(mpi.commWorld, mpi.errorsReturn) == 0 else { throw .mpi("MPI_Comm_set_errhandler failed") }
    var r: Int32 = 0, s: Int32 = 0
    _ = mpi.commRank(mpi.commWorld, &r)
    _ = mpi.commSize(mpi.commWorld, &s)
    rank = Int(r); size = Int(s)
    host = ProcessInfo.processInfo.hostName
    self.timeout = timeout
  }

  public func allGather(_ send: UnsafeRawBufferPointer, into receive: UnsafeMutableRawBufferPointer, what: String) throws(DataParallelError) {
    guard receive.count == send.count * size else { throw .invalidArgument("\(what): receive buffer of \(receive.count) bytes for \(size) × \(send.count)") }
    let count = try Self.count(send.count, what)
    var request: OpenMPI.Request = nil
    let rc = mpi.iallgather(send.baseAddress, count, mpi.byte, receive.baseAddress, count, mpi.byte, mpi.commWorld, &request)
    guard rc == 0 else { throw .mpi("\(what): MPI_Iallgather: \(mpi.describe(rc))") }
    try wait(&request, what)
  }

  public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int, what: String) throws(DataParallelError) {
    let count = try Self.count(buffer.count, what)
    var request: OpenMPI.Request = nil
    let rc = mpi.ibcast(buffer.baseAddress, count, mpi.byte, Int32(root), mpi.commWorld, &request)
    guard rc == 0 else { throw .mpi("\(what): MPI_Ibcast: \(mpi.describe(rc))") }
    try wait(&request, what)
  }

  /// MPI counts are 32-bit.
  static func count(_ bytes: Int, _ what: String) throws(DataParallelError) -> Int32 {
    guard let c = Int32(exactly: bytes) else { throw .invalidArgument("\(what): \(bytes) bytes per rank exceed MPI's 2^31 − 1") }
    return c
  }

  /// Polls a request until it completes; past the deadline the whole job is aborted. Between
  /// polls the rank yields, then sleeps (up to 0.5 ms), so that waiting ranks leave the cores
  /// to the ones still computing (ranks may outnumber cores).
  func wait(_ request: inout OpenMPI.Request, _ what: String) throws(DataParallelError) {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .milliseconds(Int64(timeout * 1000)))
    var polls = 0
    while true {
      var done: Int32 = 0
      let rc = mpi.test(&request, &done, nil)
      guard rc == 0 else { throw .mpi("\(what): MPI_Test: \(mpi.describe(rc))") }
      if done != 0 { return }
      if clock.now >= deadline {
        abort("\(what) did not complete within \(Self.seconds(timeout)): another rank is stuck, stopped or unreachable (--collective-timeout sets the limit)", code: 69)
      }
      polls += 1
      if polls < 100 { sched_yield() } else { usleep(polls < 2000 ? 50 : 500) }
    }
  }

  static func seconds(_ t: Double) -> String { t == t.rounded() ? "\(Int(t)) s" : "\(t) s" }

  public func abort(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("fp8emu: \(label): \(message)\n".utf8))
    _ = mpi.abort(mpi.commWorld, code)
    exit(code)  // MPI_Abort does not return; this satisfies the type checker
  }

  /// Ends MPI after a successful run (every rank must call it).
  public func finalize() {
    guard !finalized else { return }
    finalized = true
    _ = mpi.finalize()
  }
}

extension Array {
  /// `withUnsafeBytes` with a typed error (the standard library's rethrows untyped).
  func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try withUnsafeBufferPointer { (b) throws(E) -> R in try body(UnsafeRawBufferPointer(b)) }
  }

  mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try withUnsafeMutableBufferPointer { (b) throws(E) -> R in try body(UnsafeMutableRawBufferPointer(b)) }
  }
}
