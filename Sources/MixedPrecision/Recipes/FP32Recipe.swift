/// FP32 throughout: the baseline the FP8 recipes are measured against.
struct FP32Recipe: TrainingRecipe {
  static let isFP8 = false
  init(options: TrainingOptions, linearNames: [String]) {}
  func cast(at site: CastSite) -> OperandCast { .fp32 }
}

/// BF16 operands (round to nearest even) with FP32 products and accumulation.
struct BF16Recipe: TrainingRecipe {
  static let isFP8 = false
  init(options: TrainingOptions, linearNames: [String]) {}
  func cast(at site: CastSite) -> OperandCast { .bf16 }
}
