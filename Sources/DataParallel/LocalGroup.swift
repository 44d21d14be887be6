import Foundation

/// N communicators inside one process, one per thread, with the collectives' semantics and no
/// MPI: what the tests use to run ranks side by side.
package final class LocalGroup: @unchecked Sendable {
  package let size: Int
  let condition = NSCondition()
  var slots: [[UInt8]]
  var arrived = 0
  var generation = 0

  package init(size: Int) {
    precondition(size > 0)
    self.size = size
    slots = Array(repeating: [], count: size)
  }

  package func communicator(rank: Int) -> LocalCommunicator { LocalCommunicator(group: self, rank: rank) }

  /// Runs `body` once per rank, each on its own thread, and returns the results by rank.
  package func run<T>(_ body: @escaping @Sendable (LocalCommunicator) throws -> T) -> [Result<T, any Error>] {
    let results = Box<[Result<T, any Error>?]>(Array(repeating: nil, count: size))
    let done = DispatchGroup()
    for r in 0..<size {
      done.enter()
      let c = communicator(rank: r)
      let t = Thread {
        let out = Result { try body(c) }
        results.lock.lock(); results.value[r] = out; results.lock.unlock()
        done.leave()
      }
      t.stackSize = 16 << 20
      t.start()
    }
    done.wait()
    return results.value.map { $0! }
  }

  func barrier() {
    condition.lock()
    let g = generation
    arrived += 1
    if arrived == size {
      arrived = 0
      generation += 1
      condition.broadcast()
    } else {
      while generation == g { condition.wait() }
    }
    condition.unlock()
  }

  func post(_ rank: Int, _ bytes: [UInt8]) {
    condition.lock(); slots[rank] = bytes; condition.unlock()
  }

  func slot(_ rank: Int) -> [UInt8] {
    condition.lock(); defer { condition.unlock() }
    return slots[rank]
  }
}

final class Box<T>: @unchecked Sendable {
  var value: T
  let lock = NSLock()
  init(_ v: T) { value = v }
}

/// One rank of a ``LocalGroup``.
package final class LocalCommunicator: Communicator, @unchecked Sendable {
  let group: LocalGroup
  package let rank: Int
  package var size: Int { group.size }
  package var host: String { "local" }

  init(group: LocalGroup, rank: Int) { self.group = group; self.rank = rank }

  package func allGather(_ send: UnsafeRawBufferPointer, into receive: UnsafeMutableRawBufferPointer, what: String) throws(DataParallelError) {
    guard receive.count == send.count * size else { throw .invalidArgument("\(what): receive buffer of \(receive.count) bytes for \(size) × \(send.count)") }
    group.post(rank, Array(send))
    group.barrier()
    for r in 0..<size {
      let b = group.slot(r)
      guard b.count == send.count else { fatalError("\(what): rank \(r) sent \(b.count) bytes, rank \(rank) \(send.count)") }
      if !b.isEmpty { b.withUnsafeBytes { receive.baseAddress!.advanced(by: r * send.count).copyMemory(from: $0.baseAddress!, byteCount: b.count) } }
    }
    group.barrier()
  }

  package func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int, what: String) throws(DataParallelError) {
    if rank == root { group.post(rank, Array(buffer)) }
    group.barrier()
    let b = group.slot(root)
    guard b.count == buffer.count else { fatalError("\(what): root sent \(b.count) bytes, rank \(rank) expects \(buffer.count)") }
    if !b.isEmpty { b.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: b.count) } }
    group.barrier()
  }

  package func abort(_ message: String, code: Int32) -> Never { fatalError("\(label): \(message)") }
}
