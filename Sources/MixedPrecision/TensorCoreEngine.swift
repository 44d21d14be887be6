import FP8
import TensorCores

/// The matmul engine over the tensor-core model (``TensorCoreGEMM``): the FP8 bits and scales of
/// both operands go to the block-FMA model of the chosen GPU (``TrainingGPU/numerics``); `.ideal`
/// products run on ``IdealMatmulEngine``.
///
/// Scale layouts pair up as ``TensorCoreScaling/init(a:transposedB:)`` says: per tensor, per row,
/// 1×128 A tiles with 128×128 B blocks, MXFP8 E8M0 per 32. Block scales are applied at promotion:
/// fast accumulation on B200 and the A100 fallback is replaced by promotion every 128, as
/// DeepGEMM does; H100 fast accumulation, which never promotes, cannot apply them and throws. Both
/// operands must be FP8 for a non-ideal product (the trainer sends mixed products as `.ideal`).
public struct TensorCoreMatmulEngine: MatmulEngine {
  /// OpenMP threads of each product (0: the runtime's default). The training products are small,
  /// so one thread avoids the fork/join cost; the bits do not depend on it.
  public var threads: Int
  /// SIMD path of the tensor-core kernels (every path gives the same bits).
  public var isa: ISA
  public init(threads: Int = 1, isa: ISA = .auto) { self.threads = threads; self.isa = isa }

  public func supports(_ numerics: Numerics) -> Bool { true }

  public func matmul(_ a: Operand, _ b: Operand, m: Int, n: Int, k: Int, numerics: Numerics) throws(TrainingError) -> [Float] {
    if numerics == .ideal { return try IdealMatmulEngine(kernels: KernelContext(isa: isa, threads: threads)).matmul(a, b, m: m, n: n, k: k, numerics: .ideal) }
    guard let qa = a.quantized, let qb = b.quantized else {
      throw .invalidArgument("\(numerics) products need both operands in FP8")
    }
    guard qa.rows == m, qa.cols == k, qb.rows == n, qb.cols == k else { throw .invalidArgument("payload shapes") }
    var numerics = numerics
    if qa.granularity == .tile128, case .gpu(let gpu, .fast) = numerics {
      guard gpu.generation != .hopper else {
        throw .invalidArgument("block-wise scales are applied at promotion, which H100 fast accumulation never does")
      }
      numerics = .gpu(gpu, accumulation: .promoted(every: 128))
    }
    do { return try TensorCoreGEMM.matmul(qa, transposedB: qb, numerics: numerics, isa: isa, threads: threads) } catch {
      throw .fp8(error)
    }
  }
}
