import FP8

/// Checks the model against rows measured on real GPUs (`d = a·b + c` per row), running each
/// row as a 1×K·K×1 tensor-core product through a chosen SIMD path, so that the vectors prove the
/// same kernels that users run.
public enum TensorCoreValidation {
  /// What to check for one `<GPU>/<input>` folder of the public layout.
  public struct Plan: Sendable {
    public let gpu: GPUArchitecture
    public let input: TensorCoreInput

    /// H100 FP8 rows with FP32 output were measured as wgmma D = A·B + D with D starting at zero:
    /// c is ignored there. The FP16-output rows of the same folder take c from the file.
    public func ignoresC(accumulator: TensorCoreAccumulator) -> Bool {
      gpu.generation == .hopper && input.isFP8 && accumulator == .fp32
    }
  }

  /// The plan for a folder (GPU names as the presets, "RTX1000Ada" style names of Ada cards
  /// included), or nil when the GPU or the input format is unknown.
  public static func plan(gpuFolder: String, inputFolder: String) -> Plan? {
    guard let input = TensorCoreInput(name: inputFolder) else { return nil }
    guard let gpu = GPUArchitecture.named(gpuFolder) else { return nil }
    return Plan(gpu: gpu, input: input)
  }

  public struct Outcome: Sendable {
    public let rows: Int
    public let matched: Int
    /// Up to 5 mismatching rows (0-based) with the model's and the GPU's results.
    public let mismatches: [(row: Int, model: Float, gpu: Float)]
    public var allMatch: Bool { matched == rows }
  }

  /// Runs every row through `model` (fast chaining of blocks of L when K > L) on `isa`.
  public static func check(
    a: [[Float]], b: [[Float]], c: [Float], expected: [Float], input: TensorCoreInput, model: BlockFMAModel,
    ignoreC: Bool, isa: ISA = .auto
  ) throws(FP8Error) -> Outcome {
    guard a.count == b.count, a.count == c.count, a.count == expected.count else {
      throw .badShape("vector files disagree on the row count")
    }
    var matched = 0
    var bad: [(Int, Float, Float)] = []
    for r in a.indices {
      let k = a[r].count
      let opA = try TensorCoreOperand(values: a[r], input: input, rows: 1, cols: k)
      let opB = try TensorCoreOperand(values: b[r], input: input, rows: k, cols: 1)
      let d = try TensorCoreGEMM.matmul(opA, opB, accumulator: [ignoreC ? 0 : c[r]],
                                        numerics: .model(model, accumulation: .fast), isa: isa, threads: 1)[0]
      if d.bitPattern == expected[r].bitPattern { matched += 1 } else if bad.count < 5 { bad.append((r, d, expected[r])) }
    }
    return Outcome(rows: a.count, matched: matched, mismatches: bad)
  }
}
