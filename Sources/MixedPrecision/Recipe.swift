/// A training recipe: which matrix products are cast to which format, with which scales.
///
/// | recipe | forward (x, W) | backward (dy) | scales |
/// |---|---|---|---|
/// | `fp32` | FP32 | FP32 | – |
/// | `bf16` | BF16 (RNE) | BF16 | – |
/// | `delayed` | E4M3 | E5M2 (HYBRID) | per tensor, Transformer Engine DelayedScaling (amax history) |
/// | `current` | E4M3 | E5M2 (HYBRID) | per tensor, from the current amax (torchao default) |
/// | `rowwise` | E4M3 | E5M2 (HYBRID) | per row of A, per column of B |
/// | `blockwise` | E4M3 | E4M3 | DeepSeek-V3: 1×128 tiles (left operand), 128×128 blocks (right operand: weights) |
/// | `mxfp8` | E4M3 | E5M2 | E8M0 power-of-two scale per 32 elements along k |
public enum Recipe: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  case fp32, bf16, delayed, current, rowwise, blockwise, mxfp8

  public var isFP8: Bool { !(self == .fp32 || self == .bf16) }
  public var description: String { rawValue }

  /// The granularity of the scales of an operand of kind `kind`, as the A (left) or B (right)
  /// operand of a product. Blockwise follows DeepSeek-V3 / DeepGEMM: the left operand
  /// (activations, output gradients) in 1×128 tiles along k, the right operand (weights; the
  /// activations of the weight-gradient product) in 128×128 blocks.
  public func granularity(for kind: TensorKind, isA: Bool) -> ScaleGranularity {
    switch self {
    case .fp32, .bf16, .delayed, .current: return .tensor
    case .rowwise: return .row
    case .blockwise: return isA ? .tile1x128 : .block128x128
    case .mxfp8: return .mx32
    }
  }

  /// The default gradient format: E4M3 for blockwise (DeepSeek-V3), E5M2 otherwise (HYBRID).
  public var defaultGradientFormat: ElementFormat { self == .blockwise ? .e4m3 : .e5m2 }
}

/// The three tensors a linear layer casts.
public enum TensorKind: String, Sendable, Codable, CaseIterable {
  case activation, weight, gradient
  public var shortName: String { switch self { case .activation: "x"; case .weight: "w"; case .gradient: "g" } }
}

/// Everything a run is configured by. Defaults are those of the built-in comparison.
public struct TrainingOptions: Sendable, Codable, Equatable {
  public var recipe: Recipe = .fp32
  public var gpu: TrainingGPU.RawValue = TrainingGPU.ideal.rawValue
  public var steps = 300
  public var microBatch = 16
  /// Gradient accumulation: micro-batches per optimiser step.
  public var accumulation = 4
  public var seed: UInt64 = 1
  public var learningRate: Float = 3e-3
  public var warmupSteps = 60
  /// Cosine decay to `learningRate × finalLRFraction` at the last step.
  public var finalLRFraction: Float = 0.3
  public var weightDecay: Float = 0.01
  public var beta1: Float = 0.9
  public var beta2: Float = 0.99
  public var epsilon: Float = 1e-8

  // Scaling.
  public var amaxHistoryLength = 1024
  public var amaxAlgorithm: AmaxAlgorithm = .max
  public var margin = 0
  /// Round current-scaling scales down to powers of two.
  public var powerOfTwoScales = false
  /// Gradient format; nil means the recipe's default (E5M2 HYBRID, E4M3 for blockwise).
  public var gradientFormat: String? = nil

  // Precision schedule.
  /// LayerNorm outputs, softmax probabilities and residual sums rounded to FP16; nil: on for FP8 recipes.
  public var fp16Schedule: Bool? = nil

  // Error compensation.
  /// Dynamic loss scaling; nil: on for bf16 and FP8 recipes.
  public var dynamicLossScaling: Bool? = nil
  public var initialLossScale: Float = 65536
  public var lossScaleGrowthInterval = 100
  /// Clip every gradient element to ±clipValue (the documented option is 6).
  public var clipValue: Float? = nil
  /// Clip the global gradient norm.
  public var clipNorm: Float? = 1.0
  /// Re-calibrate weight scales from the current weights every N steps (delayed recipe).
  public var weightRecalibrationInterval: Int? = nil
  /// Quantisation-aware training: forward quantise-dequantise, straight-through gradient, FP32 products.
  public var fakeQuantization = false
  /// Linear layers kept in FP32 by name (e.g. `head`, `block0.qkv`).
  public var highPrecisionLayers: [String] = ["head"]
  /// Progressive schedule: the steps from which weights, activations and gradients are cast to FP8.
  public var fp8WeightsFrom = 0
  public var fp8ActivationsFrom = 0
  public var fp8GradientsFrom = 0
  /// Lower the learning rate by `lrReductionFactor` when a layer's forward SQNR falls below this (dB).
  public var sqnrThresholdDB: Double? = nil
  public var lrReductionFactor: Float = 0.5
  /// Steps after a reduction before another one.
  public var lrReductionCooldown = 50

  /// SIMD path of the FP8 casts (`auto`, `scalar`, `avx2`, `avx512`, `neon`); every path gives the same bits.
  public var isa = "auto"
  /// OpenMP threads of the step's C kernels (products, attention, element-wise work); the bits do not depend on it.
  public var threads = 1

  public init() {}

  public var numerics: Numerics { (TrainingGPU(name: gpu) ?? .ideal).numerics }
  public var effectiveFP16Schedule: Bool { fp16Schedule ?? recipe.isFP8 }
  public var effectiveLossScaling: Bool { dynamicLossScaling ?? (recipe != .fp32) }
  public var effectiveGradientFormat: ElementFormat {
    gradientFormat.flatMap { ElementFormat(name: $0) } ?? recipe.defaultGradientFormat
  }

  /// Learning rate at `step` (0-based): linear warm-up, then cosine decay.
  public func learningRate(at step: Int) -> Float {
    if step < warmupSteps { return learningRate * Float(step + 1) / Float(warmupSteps) }
    let t = Float(step - warmupSteps) / Float(Swift.max(1, steps - warmupSteps))
    let c = 0.5 * (1 + _cosf(Float.pi * Swift.min(1, t)))
    return learningRate * (finalLRFraction + (1 - finalLRFraction) * c)
  }
}

import Foundation
@inline(__always) private func _cosf(_ x: Float) -> Float { Foundation.cosf(x) }
