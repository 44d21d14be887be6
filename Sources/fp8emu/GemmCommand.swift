import ArgumentParser
import FP8
import FP8IO
import Foundation
import TensorCores

/// `fp8emu gemm`: one matrix product under a GPU's tensor-core numerics, from .npy operands or
/// from a layer of an FP8 safetensors checkpoint, with its error against the exact product.
struct Gemm: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run D = A·B (+ C) under a GPU's tensor-core numerics and report its error.",
    discussion: """
      Operands are .npy files: float32 arrays whose values the format represents exactly (or any \
      float32 with --quantize PRESET), or uint8 arrays of FP8 bit patterns. With --weights, B is \
      the transpose of an FP8 weight (out × in) from a safetensors checkpoint, scaled by its paired \
      scale tensor (weight_scale_inv / weight_scale), and A (the activations, M × in, float32) is \
      quantised dynamically with the matching granularity: 1×128 tiles for 128×128 weight blocks \
      (DeepSeek-V3), per row for per-channel weights, per tensor (or the checkpoint's input_scale) \
      for per-tensor weights, E8M0 per 32 for MXFP8.
      """)

  @Option(help: "A (M × K): .npy, float32 values or uint8 FP8 bit patterns.") var a: String
  @Option(help: "B (K × N): .npy, float32 values or uint8 FP8 bit patterns.") var b: String?
  @Option(help: "Starting accumulator C (M × N, float32 .npy): D = A·B + C as a wgmma chain.") var c: String?
  @Option(help: "Element format of both operands: e4m3, e5m2, f16, bf16, tf32. (default: e4m3)") var format: String?
  @Option(name: .customLong("a-format"), help: "Element format of A (overrides --format).") var aFormat: String?
  @Option(name: .customLong("b-format"), help: "Element format of B (overrides --format).") var bFormat: String?
  @Option(help: "Safetensors checkpoint holding the weight (instead of --b).") var weights: String?
  @Option(help: "Name of the FP8 weight tensor in --weights (out × in).") var tensor: String?
  @Option(help: "GPU preset: \(GPUArchitecture.presets.map(\.name).joined(separator: ", ")).") var gpu: String = "H100"
  @Option(help: "The tensor core's accumulation: fast | promoted[=N] | ideal | exact.") var accumulation: String = "promoted"
  @Option(help: "Quantise float32 operands that the format cannot represent, with this preset (cuda-satfinite, cuda-nosat, ml-dtypes, pytorch).")
  var quantize: String?
  @Option(help: "Write D (float32 .npy) here.") var out: String?
  @Option(help: "SIMD path: scalar, avx2, avx512, neon, auto.") var isa: String = "auto"
  @Option(help: "Threads (0: all).") var threads: Int = 0
  @Flag(help: "Print the result as one JSON object.") var json = false
  @OptionGroup var memory: MemoryOption

  static let formatNames = ["e4m3", "e5m2", "f16", "bf16", "tf32"]

  struct Plan {
    var gpu: GPUArchitecture, accumulation: Accumulation, preset: OverflowPreset?, isa: ISA
    var aInput: TensorCoreInput, bInput: TensorCoreInput
  }

  func plan() throws -> Plan {
    try Check.conflict(b != nil, "--b", weights != nil, "--weights")
    try Check.requires(b == nil && weights == nil, "gemm", false, "--b FILE or --weights FILE --tensor NAME")
    try Check.requires(weights != nil, "--weights", tensor != nil, "--tensor NAME")
    try Check.requires(tensor != nil, "--tensor", weights != nil, "--weights FILE")
    for (given, name) in [(format != nil, "--format"), (aFormat != nil, "--a-format"), (bFormat != nil, "--b-format"),
                          (quantize != nil, "--quantize")] {
      try Check.applies(given, name, when: weights == nil, "to .npy operands (a checkpoint's weight has its own format)")
    }
    let gpuValue = try Check.named(gpu, "--gpu", GPUArchitecture.presets.map(\.name)) { GPUArchitecture.named($0) }
    let acc = try Check.named(accumulation, "--accumulation", ["fast", "promoted", "promoted=N (N ≥ 1)", "ideal", "exact"]) {
      Accumulation(name: $0)
    }
    if case .promoted(let n) = acc { try Check.inRange(n, 1...1 << 20, "--accumulation promoted=N") }
    let preset = try quantize.map { try Check.named($0, "--quantize", OverflowPreset.allCases.map(\.rawValue)) { OverflowPreset(rawValue: $0) } }
    func input(_ name: String, _ option: String) throws -> TensorCoreInput {
      try Check.named(name, option, Gemm.formatNames) { TensorCoreInput(name: $0) }
    }
    let fa = try input(aFormat ?? format ?? "e4m3", aFormat != nil ? "--a-format" : "--format")
    let fb = try input(bFormat ?? format ?? "e4m3", bFormat != nil ? "--b-format" : "--format")
    try Check.applies(preset != nil, "--quantize", when: fa.isFP8 || fb.isFP8, "to FP8 operands")
    try Check.inRange(threads, 0...4096, "--threads")
    return Plan(gpu: gpuValue, accumulation: acc, preset: preset, isa: try isaOption(isa), aInput: fa, bInput: fb)
  }

  func validate() throws {
    _ = try plan()
  }

  /// The result as --json prints it.
  struct Report: Encodable {
    var m: Int, n: Int, k: Int, aFormat: String, bFormat: String, numerics: String, scaling: String?
    var seconds: Double, gflops: Double
    var compared: Int, maxRelativeError: Double, meanRelativeError: Double, maxAbsoluteError: Double
    var ulpHistogram: [Int], nanOutputs: Int, infiniteOutputs: Int, nanMismatches: Int, infiniteMismatches: Int
    var out: String?
  }

  func run() throws {
    let p = try plan()
    let inputs = [a, b, c, weights].compactMap { $0 }
    try checkOutputsWritable([out], inputs: inputs)
    // Shapes from the headers first: the memory is estimated before any operand is read.
    let headerA = try Npy.header(path: a)
    guard headerA.shape.count == 2 else { throw Failure("\(quotedPath(a)): A must be 2-D, its shape is \(headerA.shape)", .dataError) }
    var estimate = MemoryEstimate()
    // each .npy operand: its bytes, its values as float32, and the operand built from them
    estimate.add("A", shape: headerA.shape, elementBytes: headerA.dtype.itemSize + 8)
    let (m, k) = (headerA.shape[0], headerA.shape[1])
    var n = 0
    if let b {
      let h = try Npy.header(path: b)
      guard h.shape.count == 2, h.shape[0] == k else {
        throw Failure("\(quotedPath(b)): B must be \(k) × N for A of \(m) × \(k), its shape is \(h.shape)", .dataError)
      }
      n = h.shape[1]
      estimate.add("B", shape: h.shape, elementBytes: h.dtype.itemSize + 8)
    } else if let weights, let tensor {
      let file = try SafetensorsFile(path: weights)
      guard let w = file.info(tensor) else { throw CheckpointError.missingTensor(tensor, file: weights) }
      n = w.shape.first ?? 0
      estimate.add("weight", shape: w.shape, elementBytes: 2)
      estimate.add("quantised A", shape: headerA.shape, elementBytes: 2)
    }
    if let c {
      let h = try Npy.header(path: c)
      guard h.dtype == .f32, h.shape == [m, n] else {
        throw Failure("\(quotedPath(c)): C must be a float32 \(m)×\(n) array, it is \(h.dtype.rawValue) \(h.shape)", .dataError)
      }
      estimate.add("C", shape: h.shape, elementBytes: 8)
    }
    estimate.add("exact D", shape: [m, n], elementBytes: 4)
    estimate.add(TensorCoreGEMM.memoryEstimate(m: m, n: n, k: k, fp8: p.aInput.isFP8))
    try memory.budget.check(estimate, for: "D = A·B of \(m)×\(k) · \(k)×\(n)")

    let arrayA = try Npy.read(path: a)
    // The product under some numerics (D = op(A)·op(B) + C) and what the scaling is.
    let product: (Numerics, [Float]?) throws -> [Float]
    let formats: (ElementFormat, ElementFormat)
    var note: String? = nil
    if let weights, let tensor {
      let layer = try CheckpointLinear(file: try SafetensorsFile(path: weights), tensor: tensor)
      guard arrayA.dtype == .f32, layer.weight.cols == k else {
        throw Failure("\(quotedPath(a)): the activations must be float32 M×\(layer.weight.cols) for \(quoted(tensor)) (\(layer.weight.rows)×\(layer.weight.cols)), they are \(arrayA.dtype.rawValue) \(arrayA.shape)", .dataError)
      }
      let x = try layer.quantizeActivations(arrayA.floatsCOrder(), rows: m)
      product = { numerics, acc in
        try TensorCoreGEMM.matmul(x, transposedB: layer.weight, accumulator: acc, numerics: numerics, isa: p.isa, threads: threads)
      }
      formats = (x.format, layer.weight.format)
      note = layer.scalingDescription
    } else {
      let opA = try operand(arrayA, p.aInput, preset: p.preset, file: a, name: "A")
      let opB = try operand(try Npy.read(path: b!), p.bInput, preset: p.preset, file: b!, name: "B")
      product = { numerics, acc in
        try TensorCoreGEMM.matmul(opA, opB, accumulator: acc, numerics: numerics, isa: p.isa, threads: threads)
      }
      formats = (opA.format, opB.format)
    }
    let accumulator = try c.map { try Npy.read(path: $0).floatsCOrder() }
    let numerics = Numerics.gpu(p.gpu, accumulation: p.accumulation)
    let start = Date()
    let d = try product(numerics, accumulator)
    let seconds = Date().timeIntervalSince(start)
    let exact = try product(.exact, accumulator)
    if let out { try Npy.write(try NpyArray(floats: d, shape: [m, n]), path: out, inputs: inputs) }
    let report = ErrorReport(result: d, reference: exact)
    let gflops = 2 * Double(m) * Double(n) * Double(k) / max(seconds, 1e-9) / 1e9
    if json {
      try JSONLines.print(Report(
        m: m, n: n, k: k, aFormat: "\(formats.0)", bFormat: "\(formats.1)", numerics: "\(numerics)", scaling: note,
        seconds: seconds, gflops: gflops, compared: report.compared, maxRelativeError: report.maxRelativeError,
        meanRelativeError: report.meanRelativeError, maxAbsoluteError: report.maxAbsoluteError,
        ulpHistogram: report.ulpHistogram, nanOutputs: report.nanOutputs, infiniteOutputs: report.infiniteOutputs,
        nanMismatches: report.nanMismatches, infiniteMismatches: report.infiniteMismatches, out: out))
      return
    }
    print("D = A·B\(c == nil ? "" : " + C"): \(m)×\(k) · \(k)×\(n), \(formats.0) × \(formats.1), \(numerics)"
          + (note.map { ", \($0)" } ?? ""))
    print(String(format: "%.3f s, %.2f GFLOP/s", seconds, gflops))
    print("error against the exact product (FP64 sum rounded once to FP32):")
    print(report)
    if let out { print("wrote \(out)") }
  }

  /// A 2-D .npy as an operand: uint8 arrays are FP8 bit patterns, float32 arrays must be exact in
  /// the format unless a quantisation preset is given.
  private func operand(_ x: NpyArray, _ input: TensorCoreInput, preset: OverflowPreset?, file: String, name: String) throws
    -> TensorCoreOperand
  {
    let (rows, cols) = (x.shape[0], x.shape[1])
    switch x.dtype {
    case .u8:
      guard input == .e4m3 || input == .e5m2 else {
        throw Failure("\(quotedPath(file)): \(name) holds uint8 bit patterns, so its format must be e4m3 or e5m2 (not \(input))", .dataError)
      }
      return try TensorCoreOperand(storage: .bytes(x.cOrderData()), format: input.elementFormat, rows: rows, cols: cols)
    case .f32:
      var values = x.floatsCOrder()
      if let preset, input == .e4m3 || input == .e5m2 {
        values = try FP8Conversion.decode(FP8Conversion.encode(values, to: input.elementFormat, preset: preset), from: input.elementFormat)
      }
      do { return try TensorCoreOperand(values: values, input: input, rows: rows, cols: cols) } catch let e {
        throw Failure("\(quotedPath(file)): \(name): \(e)" + (preset == nil ? " (--quantize PRESET rounds it)" : ""), .dataError)
      }
    default:
      throw Failure("\(quotedPath(file)): \(name) must be float32 or uint8, it is \(x.dtype.rawValue)", .dataError)
    }
  }
}
