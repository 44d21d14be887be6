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
  @Option(help: "Element format of both operands: e4m3, e5m2, f16, bf16, tf32.") var format: String = "e4m3"
  @Option(name: .customLong("a-format"), help: "Element format of A (overrides --format).") var aFormat: String?
  @Option(name: .customLong("b-format"), help: "Element format of B (overrides --format).") var bFormat: String?
  @Option(help: "Safetensors checkpoint holding the weight (instead of --b).") var weights: String?
  @Option(help: "Name of the FP8 weight tensor in --weights (out × in).") var tensor: String?
  @Option(help: "GPU preset: \(GPUArchitecture.presets.map(\.name).joined(separator: ", ")).") var gpu: String = "H100"
  @Option(help: "fast | promoted[=N] | ideal | exact") var accumulation: String = "promoted"
  @Option(help: "Quantise float32 operands that the format cannot represent, with this preset (cuda-satfinite, cuda-nosat, ml-dtypes, pytorch).")
  var quantize: String?
  @Option(help: "Write D (float32 .npy) here.") var out: String?
  @Option(help: "SIMD path: scalar, avx2, avx512, neon, auto.") var isa: String = "auto"
  @Option(help: "Threads (0: all).") var threads: Int = 0

  func run() throws {
    guard let isa = ISA(name: isa), isa.isSupported else { throw ValidationError("unknown or unsupported ISA \(self.isa)") }
    guard let gpu = GPUArchitecture.named(gpu) else {
      throw ValidationError("unknown GPU \(gpu); presets: \(GPUArchitecture.presets.map(\.name).joined(separator: ", "))")
    }
    guard let accumulation = Accumulation(name: accumulation) else {
      throw ValidationError("unknown accumulation \(accumulation): fast, promoted, promoted=N, ideal, exact")
    }
    let preset = try quantize.map { name throws -> OverflowPreset in
      guard let p = OverflowPreset(rawValue: name) else {
        throw ValidationError("unknown preset \(name): \(OverflowPreset.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return p
    }
    let arrayA = try Npy.read(path: a)
    // The product under some numerics (D = op(A)·op(B) + C), its shape and what the scaling is.
    let product: (Numerics, [Float]?) throws -> [Float]
    let (m, n, k): (Int, Int, Int)
    let formats: (ElementFormat, ElementFormat)
    var note: String? = nil
    if let weights {
      guard b == nil else { throw ValidationError("give either --b or --weights, not both") }
      guard let tensor else { throw ValidationError("--weights needs --tensor NAME") }
      let layer = try CheckpointLinear(file: try SafetensorsFile(path: weights), tensor: tensor)
      (n, k) = (layer.weight.rows, layer.weight.cols)
      guard arrayA.dtype == .f32, arrayA.shape.count == 2, arrayA.shape[1] == k else {
        throw ValidationError("activations must be float32 M×\(k) for \(tensor) (\(n)×\(k)), got \(arrayA.dtype.rawValue) \(arrayA.shape)")
      }
      m = arrayA.shape[0]
      let x = try layer.quantizeActivations(arrayA.floatsCOrder(), rows: m)
      product = { numerics, acc in
        try TensorCoreGEMM.matmul(x, transposedB: layer.weight, accumulator: acc, numerics: numerics, isa: isa, threads: threads)
      }
      formats = (x.format, layer.weight.format)
      note = layer.scalingDescription
    } else {
      guard let b else { throw ValidationError("missing --b (or --weights with --tensor)") }
      let fa = try input(aFormat ?? format), fb = try input(bFormat ?? format)
      let opA = try operand(arrayA, fa, preset: preset, name: "A")
      let opB = try operand(try Npy.read(path: b), fb, preset: preset, name: "B")
      (m, n, k) = (opA.rows, opB.cols, opA.cols)
      product = { numerics, acc in
        try TensorCoreGEMM.matmul(opA, opB, accumulator: acc, numerics: numerics, isa: isa, threads: threads)
      }
      formats = (opA.format, opB.format)
    }
    var accumulator: [Float]? = nil
    if let c {
      let arrayC = try Npy.read(path: c)
      guard arrayC.dtype == .f32, arrayC.shape == [m, n] else {
        throw ValidationError("C must be a float32 \(m)×\(n) array, got \(arrayC.dtype.rawValue) \(arrayC.shape)")
      }
      accumulator = arrayC.floatsCOrder()
    }
    let numerics = Numerics.gpu(gpu, accumulation: accumulation)
    let start = Date()
    let d = try product(numerics, accumulator)
    let seconds = Date().timeIntervalSince(start)
    let exact = try product(.exact, accumulator)
    if let out { try Npy.write(try NpyArray(floats: d, shape: [m, n]), path: out) }
    print("D = A·B\(c == nil ? "" : " + C"): \(m)×\(k) · \(k)×\(n), \(formats.0) × \(formats.1), \(numerics)"
          + (note.map { ", \($0)" } ?? ""))
    print(String(format: "%.3f s, %.2f GFLOP/s", seconds, 2 * Double(m * n * k) / max(seconds, 1e-9) / 1e9))
    print("error against the exact product (FP64 sum rounded once to FP32):")
    print(ErrorReport(result: d, reference: exact))
    if let out { print("wrote \(out)") }
  }

  private func input(_ name: String) throws -> TensorCoreInput {
    guard let i = TensorCoreInput(name: name) else { throw ValidationError("unknown format \(name): e4m3, e5m2, f16, bf16, tf32") }
    return i
  }

  /// A 2-D .npy as an operand: uint8 arrays are FP8 bit patterns, float32 arrays must be exact in
  /// the format unless a quantisation preset is given.
  private func operand(_ x: NpyArray, _ input: TensorCoreInput, preset: OverflowPreset?, name: String) throws -> TensorCoreOperand {
    guard x.shape.count == 2 else { throw ValidationError("\(name) must be 2-D, got shape \(x.shape)") }
    let (rows, cols) = (x.shape[0], x.shape[1])
    switch x.dtype {
    case .u8:
      guard input == .e4m3 || input == .e5m2 else { throw ValidationError("\(name) holds uint8 bit patterns: its format must be e4m3 or e5m2") }
      return try TensorCoreOperand(storage: .bytes(x.cOrderData()), format: input.elementFormat, rows: rows, cols: cols)
    case .f32:
      var values = x.floatsCOrder()
      if let preset, input == .e4m3 || input == .e5m2 {
        values = try FP8Conversion.decode(FP8Conversion.encode(values, to: input.elementFormat, preset: preset), from: input.elementFormat)
      }
      do { return try TensorCoreOperand(values: values, input: input, rows: rows, cols: cols) } catch let e {
        throw ValidationError("\(name): \(e)" + (preset == nil ? " (pass --quantize PRESET to round it)" : ""))
      }
    default:
      throw ValidationError("\(name) must be float32 or uint8, got \(x.dtype.rawValue)")
    }
  }
}
