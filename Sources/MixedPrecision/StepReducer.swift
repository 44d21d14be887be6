/// What a data-parallel group does for the trainer, which knows nothing of MPI: it names this
/// rank's micro-batches and combines the ranks' sums. Without one, a trainer is the only rank.
public protocol StepReducer: AnyObject {
  /// The micro-batches (of `count` per step) this rank computes: a node of ``AccumulationTree``.
  func share(of count: Int) -> Range<Int>
  /// Combines every rank's sums, identically on every rank.
  func reduce(_ local: StepSums) throws(TrainingError) -> StepSums
}

/// A step's sums on one rank (its share), or over every rank (after ``StepReducer/reduce(_:)``).
public struct StepSums: Sendable {
  /// Gradient sum, taken with ``AccumulationTree``; nil when some rank's held Inf or NaN.
  public var gradients: [[Float]]?
  /// Loss sum, taken with the same tree.
  public var loss: Float
  /// Values to agree on by their maximum (a NaN anywhere gives NaN): the delayed-scaling amaxes,
  /// and the first micro-batch's decisions, which rank 0 contributes and the others leave at −∞.
  public var maxima: [Float]
  /// What the exchange sent (nil for a single process).
  public var exchange: ExchangeStats?

  public init(gradients: [[Float]]?, loss: Float, maxima: [Float], exchange: ExchangeStats? = nil) {
    self.gradients = gradients; self.loss = loss; self.maxima = maxima; self.exchange = exchange
  }
}

/// What one step's gradient exchange cost and did, on one rank.
public struct ExchangeStats: Sendable, Equatable, Codable {
  /// Bytes this rank sent for its gradient: the values and what their scales are made from;
  /// 0 on a step skipped for Inf/NaN.
  public var gradientBytes: Int
  /// Bytes this rank sent for the rest: loss, Inf/NaN check, the agreed maxima, error statistics.
  public var controlBytes: Int
  /// 10·log10(Σx² / Σ(x − decoded)²) over every rank's gradient (FP64 sums); +Inf when exact,
  /// NaN on a skipped step.
  public var sqnrDB: Double

  public init(gradientBytes: Int, controlBytes: Int, sqnrDB: Double) {
    self.gradientBytes = gradientBytes; self.controlBytes = controlBytes; self.sqnrDB = sqnrDB
  }
}
