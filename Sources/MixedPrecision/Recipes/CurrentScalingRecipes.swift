import FP8

/// Current scaling: every cast takes its scale from the amax of the tensor it casts, per tensor
/// (torchao's default), per row (torchao rowwise: rows of A, columns of B) or in DeepSeek-V3's
/// blocks (1×128 tiles of the left operand, 128×128 blocks of the right: the weights, or the
/// activations of the weight-gradient product). E4M3 forward; gradients in the gradient format.
struct CurrentScalingRecipe: TrainingRecipe {
  static let isFP8 = true
  let options: TrainingOptions
  init(options: TrainingOptions, linearNames: [String]) { self.options = options }
  func cast(at site: CastSite) -> OperandCast { options.currentCast(site, granularity: .perTensor) }
}

struct RowwiseScalingRecipe: TrainingRecipe {
  static let isFP8 = true
  let options: TrainingOptions
  init(options: TrainingOptions, linearNames: [String]) { self.options = options }
  func cast(at site: CastSite) -> OperandCast { options.currentCast(site, granularity: .perChannel) }
}

struct BlockwiseScalingRecipe: TrainingRecipe {
  static let isFP8 = true
  /// DeepSeek-V3 casts gradients to E4M3 too.
  static let defaultGradientFormat = ElementFormat.e4m3
  let options: TrainingOptions
  init(options: TrainingOptions, linearNames: [String]) { self.options = options }
  func cast(at site: CastSite) -> OperandCast { options.currentCast(site, granularity: site.isA ? .tile128 : .block128) }
}

extension TrainingOptions {
  fileprivate func currentCast(_ site: CastSite, granularity: ScaleGranularity) -> OperandCast {
    .fp8(FP8Cast(format: fp8Format(of: site.kind), granularity: granularity, scale: .current(powerOfTwo: powerOfTwoScales)))
  }
}
