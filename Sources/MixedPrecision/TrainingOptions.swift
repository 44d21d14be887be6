import FP8
import Foundation
import TensorCores

/// Everything a run is configured by. Defaults are those of the built-in comparison.
public struct TrainingOptions: Sendable, Codable, Equatable {
  public var recipe: Recipe = .fp32
  public var gpu: TrainingGPU = .ideal
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
  /// Gradient format, E4M3 or E5M2; nil means the recipe's default (E5M2 HYBRID, E4M3 for blockwise).
  public var gradientFormat: ElementFormat? = nil

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

  /// SIMD path of the step's C kernels (casts, products, layers); every path gives the same bits.
  public var isa = ISA.auto

  public init() {}

  /// The numerics of the FP8 products: the GPU's.
  public var numerics: Numerics { gpu.numerics }
  public var effectiveFP16Schedule: Bool { fp16Schedule ?? recipe.isFP8 }
  public var effectiveLossScaling: Bool { dynamicLossScaling ?? (recipe != .fp32) }
  public var effectiveGradientFormat: ElementFormat { gradientFormat ?? recipe.defaultGradientFormat }

  /// Learning rate at `step` (0-based): linear warm-up, then cosine decay.
  public func learningRate(at step: Int) -> Float {
    if step < warmupSteps { return learningRate * Float(step + 1) / Float(warmupSteps) }
    let t = Float(step - warmupSteps) / Float(Swift.max(1, steps - warmupSteps))
    let c = 0.5 * (1 + _cosf(Float.pi * Swift.min(1, t)))
    return learningRate * (finalLRFraction + (1 - finalLRFraction) * c)
  }
}

@inline(__always) private func _cosf(_ x: Float) -> Float { Foundation.cosf(x) }
