/// OCP MX: E4M3 forward, the gradient format backward, an E8M0 power-of-two scale per 32
/// consecutive elements along k (2^(floor(log2 amax) − emax_elem)).
struct MXFP8Recipe: TrainingRecipe {
  static let isFP8 = true
  let options: TrainingOptions
  init(options: TrainingOptions, linearNames: [String]) { self.options = options }
  func cast(at site: CastSite) -> OperandCast {
    .fp8(FP8Cast(format: options.fp8Format(of: site.kind), granularity: .mxfp8, scale: .mx))
  }
}
