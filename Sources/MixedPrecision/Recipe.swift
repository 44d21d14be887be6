import FP8

/// The training recipes by name: which matrix products are cast to which format, with which scales.
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
///
/// Each name stands for one type conforming to ``TrainingRecipe``; adding a recipe is its file and
/// a case here.
public enum Recipe: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  case fp32, bf16, delayed, current, rowwise, blockwise, mxfp8

  /// The type that implements the recipe.
  package var implementation: any TrainingRecipe.Type {
    switch self {
    case .fp32: return FP32Recipe.self
    case .bf16: return BF16Recipe.self
    case .delayed: return DelayedScalingRecipe.self
    case .current: return CurrentScalingRecipe.self
    case .rowwise: return RowwiseScalingRecipe.self
    case .blockwise: return BlockwiseScalingRecipe.self
    case .mxfp8: return MXFP8Recipe.self
    }
  }

  public var isFP8: Bool { implementation.isFP8 }
  public var description: String { rawValue }
  /// The gradient format when the options name none: E5M2 (HYBRID), E4M3 for blockwise (DeepSeek-V3).
  public var defaultGradientFormat: ElementFormat { implementation.defaultGradientFormat }
}

/// The three tensors a linear layer casts.
package enum TensorKind: String, Sendable, Codable, CaseIterable {
  case activation, weight, gradient
  var shortName: String { switch self { case .activation: "x"; case .weight: "w"; case .gradient: "g" } }
  var index: Int { switch self { case .activation: 0; case .weight: 1; case .gradient: 2 } }
}

/// Where a cast happens: the linear layer, the tensor, and the product it is an operand of.
package struct CastSite: Sendable, Hashable {
  package var linear: Int
  package var kind: TensorKind
  package var role: GemmRole

  package init(linear: Int, kind: TensorKind, role: GemmRole) { self.linear = linear; self.kind = kind; self.role = role }

  /// Whether the tensor is the left operand (A) of its product: the activations of the forward
  /// product, the output gradients of both backward products.
  package var isA: Bool { kind == .gradient || (role == .forward && kind == .activation) }
}

/// How an operand is cast before its product.
package enum OperandCast: Sendable, Hashable {
  case fp32
  /// Rounded to the nearest BF16 value (ties to even); the product stays FP32.
  case bf16
  case fp8(FP8Cast)
}

/// A training recipe: how it casts the operands of the linear layers' products, the scaling state
/// it keeps between steps, and its end-of-step update. The trainer owns the rest (layers kept in
/// FP32, the progressive schedule, fake quantisation, monitors, the matrix-product engine).
///
/// A step as the trainer drives it:
/// 1. ``beginStep(_:weightAmax:)`` before the first product;
/// 2. ``cast(at:)`` for every operand of every product, then ``observe(amax:at:)`` with the amax
///    of each FP8 cast (not during evaluation);
/// 3. after the optimiser (or the skipped step): ``endStep(amaxes:)`` with ``stepAmaxes``. This is
///    where replicas agree: data-parallel training max-reduces ``stepAmaxes`` across ranks (NaN
///    propagating) before passing them, so that every rank derives the same scales.
package protocol TrainingRecipe: Sendable {
  /// Whether the recipe casts to FP8: its products run on the GPU's FP8 numerics, and loss scaling
  /// and the FP16 precision schedule are on by default.
  static var isFP8: Bool { get }
  /// The gradient format when the options name none.
  static var defaultGradientFormat: ElementFormat { get }

  /// A fresh recipe for a run with these options over linear layers of these names.
  init(options: TrainingOptions, linearNames: [String])

  /// The cast of one operand.
  func cast(at site: CastSite) -> OperandCast
  /// Records the amax of an FP8 cast done during a training step.
  mutating func observe(amax: Float, at site: CastSite)
  /// Start of step `step`; `weightAmax(l)` is max |W| of linear layer l. Returns events to log.
  mutating func beginStep(_ step: Int, weightAmax: (Int) -> Float) -> [String]
  /// The amaxes observed this step, one per scaled tensor in a fixed order.
  var stepAmaxes: [Float] { get }
  /// Ends the step with its amaxes (``stepAmaxes``, reduced across ranks when there are several).
  mutating func endStep(amaxes: [Float])
  /// The state a checkpoint saves: Transformer Engine amax histories and scales, per linear layer
  /// and tensor kind (empty when the recipe keeps none).
  var scalingState: [[DelayedScaling]] { get }
  /// Restores ``scalingState`` from a checkpoint.
  mutating func restore(scalingState: [[DelayedScaling]]) throws(TrainingError)
}

extension TrainingRecipe {
  package static var defaultGradientFormat: ElementFormat { .e5m2 }
  package mutating func observe(amax: Float, at site: CastSite) {}
  package mutating func beginStep(_ step: Int, weightAmax: (Int) -> Float) -> [String] { [] }
  package var stepAmaxes: [Float] { [] }
  package mutating func endStep(amaxes: [Float]) {}
  package var scalingState: [[DelayedScaling]] { [] }
  /// Recipes without state ignore what a checkpoint holds (files written before this version keep
  /// unused histories for every recipe).
  package mutating func restore(scalingState: [[DelayedScaling]]) throws(TrainingError) {}
}

extension TrainingOptions {
  /// The FP8 format of a tensor: E4M3, or the run's gradient format for gradients.
  func fp8Format(of kind: TensorKind) -> ElementFormat { kind == .gradient ? effectiveGradientFormat : .e4m3 }
}
