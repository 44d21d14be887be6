/// An NVIDIA GPU generation as far as tensor-core numerics go: its compute capability, the input
/// formats its tensor cores take natively, and the block-FMA model of each.
///
/// | preset | sm | FP8 E4M3/E5M2 | FP16 / BF16 | TF32 | Emin (FP32 acc / FP16 acc) |
/// |---|---|---|---|---|---|
/// | V100 | 70 | — | L=4, F=23 (FP16 only) | — | none / −19 |
/// | A100, A30 | 80 | — (hybrid FP16) | L=8, F=24 | L=4, F=24 | −132 / −20 |
/// | A2 | 86 | — (hybrid FP16) | L=8, F=24 | L=4, F=24 | −132 / −20 |
/// | Ada, L40S | 89 | L=16, F=13 | L=8, F=24 | L=4, F=24 | −132 / −20 |
/// | H100, H200 | 90 | L=32, F=13; FP16 acc: two FP16 blocks of 16, c added after | L=16, F=25 | L=8, F=25 | −133 / −21 |
/// | B200 | 100 | L=32, sum then c added (RNE); FP16 acc: as H100 | L=16, F=25 | L=8, F=25 | −133 / −21 |
///
/// Measured on V100, A100, an RTX 1000 Ada, H100 and B200 (the shared vectors); A2, A30, L40S and
/// H200 are assumed to share their generation's numerics (same tensor-core design), unmeasured.
public struct GPUArchitecture: Sendable, Hashable, CustomStringConvertible {
  public enum Generation: String, Sendable, Hashable { case volta, ampere, ada, hopper, blackwell }

  public let name: String
  /// 70, 80, 86, 89, 90, 100.
  public let computeCapability: Int
  public let generation: Generation

  public var sm: String { "sm_\(computeCapability)" }

  public static let v100 = GPUArchitecture(name: "V100", computeCapability: 70, generation: .volta)
  public static let a100 = GPUArchitecture(name: "A100", computeCapability: 80, generation: .ampere)
  public static let a30 = GPUArchitecture(name: "A30", computeCapability: 80, generation: .ampere)
  public static let a2 = GPUArchitecture(name: "A2", computeCapability: 86, generation: .ampere)
  public static let ada = GPUArchitecture(name: "Ada", computeCapability: 89, generation: .ada)
  public static let l40s = GPUArchitecture(name: "L40S", computeCapability: 89, generation: .ada)
  public static let h100 = GPUArchitecture(name: "H100", computeCapability: 90, generation: .hopper)
  public static let h200 = GPUArchitecture(name: "H200", computeCapability: 90, generation: .hopper)
  public static let b200 = GPUArchitecture(name: "B200", computeCapability: 100, generation: .blackwell)

  public static let presets: [GPUArchitecture] = [.v100, .a100, .a2, .a30, .ada, .l40s, .h100, .h200, .b200]

  /// A preset by name, case-insensitive ("h100", "L40S", "sm_90" gives H100).
  public static func named(_ name: String) -> GPUArchitecture? {
    let key = name.lowercased()
    if let gpu = presets.first(where: { $0.name.lowercased() == key }) { return gpu }
    return presets.first(where: { $0.sm == key })
  }

  /// The input formats the tensor cores take natively.
  public var nativeInputs: [TensorCoreInput] {
    switch generation {
    case .volta: return [.fp16]
    case .ampere: return [.fp16, .bf16, .tf32]
    case .ada, .hopper, .blackwell: return [.e4m3, .e5m2, .fp16, .bf16, .tf32]
    }
  }

  /// True from sm_89 on: FP8 products run on the tensor cores.
  public var hasNativeFP8: Bool { computeCapability >= 89 }

  /// The block-FMA model of `input` with `accumulator`, or nil when the tensor cores lack that
  /// combination (FP8 below sm_89, BF16/TF32 on V100, BF16/TF32 with an FP16 accumulator).
  /// FP8 inputs with an FP16 accumulator: Ada fuses c into blocks of 16 (F = 13) and rounds the
  /// exact sum to FP16; H100 and B200 run the 32 products as two FP16 blocks of 16 (their FP16
  /// inputs' F = 25) and add c after (``BlockFMAModel/CInput/addedAfterHalves``).
  public func numerics(for input: TensorCoreInput, accumulator: TensorCoreAccumulator = .fp32) -> BlockFMAModel? {
    guard nativeInputs.contains(input) else { return nil }
    if accumulator == .fp16 && (input == .bf16 || input == .tf32) { return nil }
    let emin32: Int?, emin16: Int
    switch generation {
    case .volta: emin32 = nil; emin16 = -19
    case .ampere, .ada: emin32 = -132; emin16 = -20
    case .hopper, .blackwell: emin32 = -133; emin16 = -21
    }
    let floor = accumulator == .fp16 ? emin16 : emin32
    let (l, f): (Int, Int)
    switch (generation, input) {
    case (.volta, _): (l, f) = (4, 23)
    case (.ampere, .tf32), (.ada, .tf32): (l, f) = (4, 24)
    case (.ampere, _), (.ada, .fp16), (.ada, .bf16): (l, f) = (8, 24)
    case (.ada, _): (l, f) = (16, 13)
    case (_, .tf32): (l, f) = (8, 25)
    case (_, .e4m3) where accumulator == .fp16, (_, .e5m2) where accumulator == .fp16: (l, f) = (32, 25)
    case (.hopper, .e4m3), (.hopper, .e5m2): (l, f) = (32, 13)
    case (.blackwell, .e4m3), (.blackwell, .e5m2): (l, f) = (32, 24)
    default: (l, f) = (16, 25)
    }
    let cInput: BlockFMAModel.CInput
    switch (generation, input.isFP8, accumulator) {
    case (.hopper, true, .fp16), (.blackwell, true, .fp16): cInput = .addedAfterHalves
    case (.blackwell, true, .fp32): cInput = .addedAfter
    default: cInput = .fused
    }
    return BlockFMAModel(blockSize: l, fractionBits: f, minExponent: floor, accumulator: accumulator, cInput: cInput)
  }

  /// What an FP8 training stack runs for FP8 data: full FP8 on sm_89 and newer; below, the
  /// "hybrid FP16" fallback (FP8 storage, each value widened exactly to FP16, FP16 tensor-core
  /// arithmetic). Returns the model and the input format the tensor core actually sees.
  public func fp8Numerics(_ input: TensorCoreInput = .e4m3, accumulator: TensorCoreAccumulator = .fp32)
    -> (model: BlockFMAModel, computeInput: TensorCoreInput)?
  {
    precondition(input.isFP8, "fp8Numerics takes an FP8 input")
    if hasNativeFP8, let m = numerics(for: input, accumulator: accumulator) { return (m, input) }
    return numerics(for: .fp16, accumulator: accumulator).map { ($0, .fp16) }
  }

  public var description: String { "\(name) (\(sm))" }
}
