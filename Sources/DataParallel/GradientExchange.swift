import FP8
import FP8Linalg
import Foundation
import MixedPrecision

/// Sums the ranks' gradients in a chosen format, in the fixed order of ``AccumulationTree``:
/// with `fp32` the result is bit for bit what one process summing the whole global batch gets.
///
/// Two collectives per step. First a small one: every rank's loss, whether its gradients are
/// finite, its E5M2 amaxes and the maxima to agree on. Then, unless a rank's gradients hold
/// Inf or NaN, the encoded gradients, each preceded by its error statistics.
public final class GradientExchange: StepReducer {
  public let communicator: any Communicator
  public let format: ExchangeFormat
  /// The micro-batches of each rank, by rank.
  public let shares: [Range<Int>]
  public let microBatches: Int
  let codec: ExchangeCodec
  static let headerBytes = 16

  /// `counts`: the element count of each gradient tensor; `microBatches`: per optimiser step,
  /// over all ranks.
  public init(communicator: any Communicator, format: ExchangeFormat, counts: [Int], microBatches: Int,
              isa: ISA = .auto) throws(DataParallelError) {
    let n = communicator.size
    guard let s = AccumulationTree.shares(of: microBatches, ranks: n) else {
      throw .invalidArgument("\(microBatches) micro-batches per step (--accumulation) cannot be shared by \(n) ranks: each rank must take the same power-of-two number of them (ranks × 2^k: \(n), \(2 * n), \(4 * n), ...)")
    }
    self.communicator = communicator; self.format = format; shares = s; self.microBatches = microBatches
    codec = ExchangeCodec(format: format, counts: counts, isa: isa)
    do { _ = try ResourceLimits.checkedBytes([n, codec.payloadBytes + Self.headerBytes], what: "the gathered gradients") } catch {
      throw .fp8(error)
    }
  }

  /// This rank's micro-batches.
  public var share: Range<Int> { shares[communicator.rank] }

  public func share(of count: Int) -> Range<Int> {
    precondition(count == microBatches, "the exchange was made for \(microBatches) micro-batches per step, not \(count)")
    return share
  }

  /// The trainer's entry: a failed exchange ends the whole job (the other ranks cannot go on).
  public func reduce(_ local: StepSums) throws(TrainingError) -> StepSums {
    do { return try exchange(local) } catch { communicator.abort(error.description, code: error.exitCode) }
  }

  /// Combines the ranks' sums; `local.gradients` must be present.
  public func exchange(_ c: StepSums) throws(DataParallelError) -> StepSums {
    guard let gradients = c.gradients else { throw .invalidArgument("no local gradients") }
    let n = communicator.size
    guard gradients.map(\.count) == codec.counts else { throw .invalidArgument("gradient shapes differ from the exchange's") }
    let finite = gradients.allSatisfy { t in t.allSatisfy(\.isFinite) }
    var amax: [Float] = []
    if codec.needsAmax && finite {
      do { amax = try codec.amax(gradients) } catch { throw .fp8(error) }
    } else if codec.needsAmax {
      amax = [Float](repeating: .nan, count: codec.counts.count)
    }
    // Control message: loss, finiteness, E5M2 amaxes, maxima.
    let control = [c.loss, finite ? 1 : 0] + amax + c.maxima
    let all = try communicator.allGather(control, what: "step agreement (loss, Inf/NaN check, amaxes)")
    let loss = AccumulationTree.combine(shares, count: microBatches, node: { all[$0][0] }, add: +)
    let allFinite = all.allSatisfy { $0[1] == 1 }
    func agreedMax(_ offset: Int, _ count: Int) -> [Float] {
      (0..<count).map { i in
        all.reduce(-Float.infinity) { m, row in
          let v = row[offset + i]
          return m.isNaN || v.isNaN ? .nan : Swift.max(m, v)
        }
      }
    }
    let agreedAmax = agreedMax(2, amax.count)
    let maxima = agreedMax(2 + amax.count, c.maxima.count)
    let scaleBytesInControl = codec.needsAmax ? 4 * amax.count : 0
    var report = ExchangeStats(gradientBytes: scaleBytesInControl, controlBytes: 4 * control.count - scaleBytesInControl,
                                sqnrDB: .nan)
    guard allFinite else {
      report.gradientBytes = 0
      report.controlBytes = 4 * control.count
      return StepSums(gradients: nil, loss: loss, maxima: maxima, exchange: report)
    }

    // Gradients: [Σ(x − decoded)², Σx²] (FP64) then the payload.
    let width = Self.headerBytes + codec.payloadBytes
    var send = [UInt8](repeating: 0, count: width)
    do {
      try send.withMutableBytes { (b) throws(FP8Error) in
        let payload = UnsafeMutableRawBufferPointer(rebasing: b[Self.headerBytes...])
        try codec.encode(gradients, amax: agreedAmax, into: payload)
        let mine = try codec.decode(UnsafeRawBufferPointer(payload), amax: agreedAmax)
        var err = 0.0, sig = 0.0
        for (x, y) in zip(gradients, mine) {
          for j in x.indices { let d = Double(x[j]) - Double(y[j]); err += d * d; sig += Double(x[j]) * Double(x[j]) }
        }
        b.storeBytes(of: err, toByteOffset: 0, as: Double.self)
        b.storeBytes(of: sig, toByteOffset: 8, as: Double.self)
      }
    } catch { throw .fp8(error) }
    var gathered = [UInt8](repeating: 0, count: n * width)
    try send.withBytes { (s) throws(DataParallelError) in
      try gathered.withMutableBytes { (r) throws(DataParallelError) in try communicator.allGather(s, into: r, what: "gradient exchange (\(format))") }
    }
    report.gradientBytes += codec.payloadBytes
    report.controlBytes += Self.headerBytes
    let sum: [[Float]]
    do {
      sum = try gathered.withBytes { (g) throws(FP8Error) -> [[Float]] in
        var err = 0.0, sig = 0.0
        for r in 0..<n {
          err += g.loadUnaligned(fromByteOffset: r * width, as: Double.self)
          sig += g.loadUnaligned(fromByteOffset: r * width + 8, as: Double.self)
        }
        report.sqnrDB = err == 0 ? .infinity : 10 * log10(sig / err)
        return try AccumulationTree.combine(shares, count: microBatches, node: { (r) throws(FP8Error) in
          try codec.decode(UnsafeRawBufferPointer(rebasing: g[(r * width + Self.headerBytes)..<((r + 1) * width)]), amax: agreedAmax)
        }, add: AccumulationTree.add)
      }
    } catch { throw .fp8(error) }
    return StepSums(gradients: sum, loss: loss, maxima: maxima, exchange: report)
  }
}
