import TensorCores

/// The matmul engine over the tensor-core model (`TensorCores.TensorCoreGEMM`): FP8 bits go to
/// the block-FMA model of the chosen GPU with the recipe's dequantisation scales.
///
/// | numerics | tensor-core numerics |
/// |---|---|
/// | `ideal` | the Swift ideal engine (dequantise, FP32 in k order) |
/// | `h100Fast` | H100 model, fast accumulation (no promotion) |
/// | `h100Promoted(interval:)` | H100 model, FP32 promotion every `interval` |
/// | `b200` | B200 model, its own chaining |
/// | `a100HybridFP16` | A100: FP8 widened to FP16, FP16 tensor-core model, FP32 accumulator |
///
/// Scale layouts: per-tensor → `.tensor`, row → `.rowwise`, 1×128 A tiles with 128×128 B blocks →
/// `.block` (applied at promotion: B200 and A100 promote every 128 for it; H100 fast accumulation
/// throws, as DeepSeek-V3's recipe needs promotion), MX 32 → `.mx` with E8M0 bytes. Both operands must be
/// FP8 for a non-ideal product (the trainer sends mixed products as `ideal`).
public struct TensorCoreMatmulEngine: MatmulEngine {
  /// OpenMP threads of each product (0: the runtime's default). The training products are small,
  /// so one thread avoids the fork/join cost; the bits do not depend on it.
  public var threads: Int
  /// SIMD path of the tensor-core kernels (every path gives the same bits).
  public var isa: ISA
  public init(threads: Int = 1, isa: ISA = .auto) { self.threads = threads; self.isa = isa }

  public func supports(_ numerics: Numerics) -> Bool { true }

  static func tensorCoreNumerics(_ n: Numerics) -> TensorCores.Numerics {
    switch n {
    case .ideal: return .ideal
    case .h100Fast: return .gpu(.h100, accumulation: .fast)
    case .h100Promoted(let i): return .gpu(.h100, accumulation: .promoted(every: i))
    case .b200: return .gpu(.b200, accumulation: .fast)
    case .a100HybridFP16: return .gpu(.a100, accumulation: .fast)
    }
  }

  public func matmul(_ a: Operand, _ b: Operand, m: Int, n: Int, k: Int, numerics: Numerics) throws(TrainingError) -> [Float] {
    if numerics == .ideal { return try IdealMatmulEngine(kernels: KernelContext(isa: isa, threads: threads)).matmul(a, b, m: m, n: n, k: k, numerics: .ideal) }
    guard let qa = a.quantized, let qb = b.quantized else {
      throw .invalidArgument("\(numerics) products need both operands in FP8")
    }
    guard qa.outer == m, qa.k == k, qb.outer == n, qb.k == k else { throw .invalidArgument("payload shapes") }
    do {
      let opA = try TensorCoreOperand(storage: .bytes(qa.bits), format: qa.format, rows: m, cols: k)
      let opB = try TensorCoreOperand(storage: .bytes(qb.bits), format: qb.format, rows: k, cols: n, transposed: true)
      let scaling: TensorCoreScaling
      switch (qa.granularity, qb.granularity) {
      case (.tensor, .tensor): scaling = .tensor(a: qa.scaleInverse[0], b: qb.scaleInverse[0])
      case (.row, .row): scaling = .rowwise(a: qa.scaleInverse, b: qb.scaleInverse)
      case (.tile1x128, .block128x128):
        // B's block grid is stored (n/128) × (k/128); the kernel wants (k/128) × (n/128).
        scaling = .block(a: qa.scaleInverse, b: transpose(qb.scaleInverse, rows: (n + 127) / 128, cols: (k + 127) / 128))
      case (.mx32, .mx32):
        func e8m0(_ s: Float) -> UInt8 { s.isNaN || s <= 0 ? 0xFF : UInt8(clamping: Int(s.exponent) + 127) }
        scaling = .mx(a: qa.scaleInverse.map(e8m0), b: transpose(qb.scaleInverse.map(e8m0), rows: n, cols: (k + 31) / 32))
      default:
        throw TrainingError.invalidArgument("no tensor-core scaling for \(qa.granularity) × \(qb.granularity)")
      }
      var tcNumerics = Self.tensorCoreNumerics(numerics)
      if case .block = scaling {
        // Block scales are applied when a partial sum is promoted: B200 and the A100 fallback
        // promote every 128 as DeepGEMM does; H100 without promotion cannot apply them.
        switch numerics {
        case .h100Fast:
          throw TrainingError.invalidArgument("block-wise scales need promotion (use --gpu h100, promotion every 128)")
        case .b200: tcNumerics = .gpu(.b200, accumulation: .promoted(every: 128))
        case .a100HybridFP16: tcNumerics = .gpu(.a100, accumulation: .promoted(every: 128))
        default: break
        }
      }
      return try TensorCoreGEMM.matmul(opA, opB, numerics: tcNumerics, scaling: scaling, isa: isa, threads: threads)
    } catch let e as FP8Error {
      throw .fp8(e)
    } catch let e as TrainingError {
      throw e
    } catch {
      throw .invalidArgument("\(error)")
    }
  }
}
