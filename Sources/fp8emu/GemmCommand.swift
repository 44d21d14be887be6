import ArgumentParser
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
    let problem: Problem
    if let weights {
      guard b == nil else { throw ValidationError("give either --b or --weights, not both") }
      guard let tensor else { throw ValidationError("--weights needs --tensor NAME") }
      problem = try Problem.checkpointLayer(activations: arrayA, file: weights, tensor: tensor)
    } else {
      guard let b else { throw ValidationError("missing --b (or --weights with --tensor)") }
      let fa = try input(aFormat ?? format), fb = try input(bFormat ?? format)
      problem = Problem(
        a: try operand(arrayA, fa, preset: preset, name: "A"),
        b: try operand(try Npy.read(path: b), fb, preset: preset, name: "B"), scaling: .none)
    }
    let m = problem.a.rows, n = problem.b.cols
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
    let d = try TensorCoreGEMM.matmul(problem.a, problem.b, accumulator: accumulator, numerics: numerics,
                                      scaling: problem.scaling, isa: isa, threads: threads)
    let seconds = Date().timeIntervalSince(start)
    let exact = try TensorCoreGEMM.matmul(problem.a, problem.b, accumulator: accumulator, numerics: .exact,
                                          scaling: problem.scaling, isa: isa, threads: threads)
    if let out { try Npy.write(try NpyArray(floats: d, shape: [m, n]), path: out) }
    let k = problem.a.cols
    print("D = A·B\(c == nil ? "" : " + C"): \(m)×\(k) · \(k)×\(n), \(problem.a.format) × \(problem.b.format), \(numerics)"
          + (problem.note.map { ", \($0)" } ?? ""))
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

/// The operands and scaling of one product.
private struct Problem {
  var a: TensorCoreOperand
  var b: TensorCoreOperand
  var scaling: TensorCoreScaling
  var note: String? = nil

  /// Y = X · Wᵀ for an FP8 weight W (out × in) with its paired scales; X quantised to W's format
  /// with the activation granularity that matches the weight's.
  static func checkpointLayer(activations x: NpyArray, file path: String, tensor name: String) throws -> Problem {
    let file = try SafetensorsFile(path: path)
    guard let w = file.info(name) else { throw ValidationError("no tensor \(name) in \(path)") }
    guard let wFormat = w.dtype.elementFormat, w.dtype == .f8e4m3 || w.dtype == .f8e5m2, w.shape.count == 2 else {
      throw ValidationError("\(name) is \(w.dtype) \(w.shape): expected a 2-D F8_E4M3 or F8_E5M2 weight")
    }
    let (n, k) = (w.shape[0], w.shape[1])
    guard x.dtype == .f32, x.shape.count == 2, x.shape[1] == k else {
      throw ValidationError("activations must be float32 M×\(k) for \(name) (\(n)×\(k)), got \(x.dtype.rawValue) \(x.shape)")
    }
    let m = x.shape[0]
    let values = x.floatsCOrder()
    let b = try TensorCoreOperand(storage: .bytes(Array(try file.bytes(of: name))), format: wFormat, rows: k, cols: n,
                                  transposed: true)
    guard let pairing = try FP8Checkpoint.pairings(file)[name] else {
      // No scale tensor: the weight's values are used as they are, activations quantised per tensor.
      let q = try Quantizer(format: wFormat, granularity: .perTensor).quantize(values, rows: m, cols: k)
      let a = try TensorCoreOperand(storage: .bytes(q.bits), format: wFormat, rows: m, cols: k)
      return Problem(a: a, b: b, scaling: .tensor(a: q.scales[0], b: 1), note: "no weight scale, activations per tensor")
    }
    let scaleInfo = file.info(pairing.scale)!
    let scaleBytes = try file.bytes(of: pairing.scale)
    switch pairing.granularity {
    case .block128:
      // 1×128 activation tiles: each row quantised on its own with 128-wide blocks.
      let kb = (k + 127) / 128, nb = (n + 127) / 128
      var bits = [UInt8](), sa = [Float]()
      bits.reserveCapacity(m * k); sa.reserveCapacity(m * kb)
      let quantizer = Quantizer(format: wFormat, granularity: .block128)
      for r in 0..<m {
        let q = try quantizer.quantize(Array(values[r * k..<(r + 1) * k]), rows: 1, cols: k)
        bits += q.bits; sa += q.scales
      }
      let ws = FP8Checkpoint.floatScales(scaleInfo, scaleBytes) // [nb][kb]
      var sb = [Float](repeating: 0, count: kb * nb)
      for i in 0..<nb { for j in 0..<kb { sb[j * nb + i] = ws[i * kb + j] } }
      return Problem(a: try TensorCoreOperand(storage: .bytes(bits), format: wFormat, rows: m, cols: k), b: b,
                     scaling: .block(a: sa, b: sb), note: "1×128 activation tiles, 128×128 weight blocks")
    case .perChannel:
      let q = try Quantizer(format: wFormat, granularity: .perChannel).quantize(values, rows: m, cols: k)
      return Problem(a: try TensorCoreOperand(storage: .bytes(q.bits), format: wFormat, rows: m, cols: k), b: b,
                     scaling: .rowwise(a: q.scales, b: FP8Checkpoint.floatScales(scaleInfo, scaleBytes)),
                     note: "per-token activations, per-channel weights")
    case .perTensor:
      let ws = FP8Checkpoint.floatScales(scaleInfo, scaleBytes)[0]
      if let inputName = pairing.inputScale, let info = file.info(inputName) {
        // Static activation scale from the checkpoint: q = satfinite(x / s).
        let s = FP8Checkpoint.floatScales(info, try file.bytes(of: inputName))[0]
        guard s.isFinite, s > 0 else { throw ValidationError("\(inputName) = \(s) is not a positive finite scale") }
        let bits = try FP8Conversion.encode(values.map { $0 / s }, to: wFormat, preset: .cudaSatfinite)
        return Problem(a: try TensorCoreOperand(storage: .bytes(bits), format: wFormat, rows: m, cols: k), b: b,
                       scaling: .tensor(a: s, b: ws), note: "static input_scale, per-tensor weight")
      }
      let q = try Quantizer(format: wFormat, granularity: .perTensor).quantize(values, rows: m, cols: k)
      return Problem(a: try TensorCoreOperand(storage: .bytes(q.bits), format: wFormat, rows: m, cols: k), b: b,
                     scaling: .tensor(a: q.scales[0], b: ws), note: "dynamic per-tensor activations and weight")
    case .mxfp8:
      let q = try Quantizer(format: wFormat, granularity: .mxfp8).quantize(values, rows: m, cols: k)
      let kb = (k + 31) / 32
      let wmx = Array(scaleBytes) // [n][kb]
      var bmx = [UInt8](repeating: 0, count: kb * n)
      for i in 0..<n { for j in 0..<kb { bmx[j * n + i] = wmx[i * kb + j] } }
      return Problem(a: try TensorCoreOperand(storage: .bytes(q.bits), format: wFormat, rows: m, cols: k), b: b,
                     scaling: .mx(a: q.mxScales, b: bmx), note: "MXFP8 E8M0 per 32")
    }
  }
}
