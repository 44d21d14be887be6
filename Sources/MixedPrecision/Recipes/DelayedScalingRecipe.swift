/// Transformer Engine's DelayedScaling: one scale per tensor, taken from an amax history of the
/// previous steps (``DelayedScaling``), one history per linear layer and tensor kind. E4M3
/// forward; gradients in the gradient format. With a re-calibration interval, the weight scales
/// are set from the current weights every that many steps.
struct DelayedScalingRecipe: TrainingRecipe {
  static let isFP8 = true
  let options: TrainingOptions
  /// Per linear layer, per tensor kind (``TensorKind/index``).
  var state: [[DelayedScaling]]
  let highPrecision: [Bool]

  init(options: TrainingOptions, linearNames: [String]) {
    self.options = options
    state = linearNames.map { _ in
      TensorKind.allCases.map { k in
        DelayedScaling(length: options.amaxHistoryLength, algorithm: options.amaxAlgorithm, margin: options.margin,
                       fp8Max: options.fp8Format(of: k).maxFinite)
      }
    }
    highPrecision = linearNames.map { options.highPrecisionLayers.contains($0) }
  }

  func cast(at site: CastSite) -> OperandCast {
    .fp8(FP8Cast(format: options.fp8Format(of: site.kind), granularity: .perTensor,
                 scale: .fixed(state[site.linear][site.kind.index].scale)))
  }

  mutating func observe(amax: Float, at site: CastSite) { state[site.linear][site.kind.index].observe(amax) }

  mutating func beginStep(_ step: Int, weightAmax: (Int) -> Float) -> [String] {
    guard let every = options.weightRecalibrationInterval, every > 0, step > 0, step % every == 0 else { return [] }
    for l in state.indices where !highPrecision[l] { state[l][TensorKind.weight.index].recalibrate(amax: weightAmax(l)) }
    return ["step \(step): weight scales re-calibrated"]
  }

  var stepAmaxes: [Float] { state.flatMap { $0.map(\.pending) } }

  mutating func endStep(amaxes: [Float]) {
    precondition(amaxes.count == state.count * TensorKind.allCases.count, "one amax per scaled tensor")
    var i = 0
    for l in state.indices {
      for k in state[l].indices { state[l][k].update(amax: amaxes[i]); i += 1 }
    }
  }

  var scalingState: [[DelayedScaling]] { state }

  mutating func restore(scalingState: [[DelayedScaling]]) throws(TrainingError) {
    guard scalingState.count == state.count, scalingState.allSatisfy({ $0.count == TensorKind.allCases.count }) else {
      throw .badCheckpoint("amax histories for \(scalingState.count) layers, the model has \(state.count)")
    }
    state = scalingState
  }
}
