import FP8
import Foundation

/// How the amax of a delayed-scaling window is reduced (Transformer Engine `amax_compute_algo`).
public enum AmaxAlgorithm: String, Sendable, Codable, CaseIterable {
  /// The largest amax in the history window.
  case max
  /// The amax of the most recent step only.
  case mostRecent = "most_recent"
}

/// The scale formulas of the recipes. A scale multiplies the FP32 values before the cast to FP8
/// (q = cast(x · scale)); dequantisation multiplies by 1/scale.
///
/// | recipe | scale | amax = 0 | amax = Inf or NaN |
/// |---|---|---|---|
/// | delayed | (FP8_MAX / amax_window) / 2^margin | previous scale kept | previous scale kept |
/// | current / rowwise / blockwise | FP8_MAX / amax (optionally rounded down to a power of two) | 1 | 1 |
/// | mxfp8 | 2^(emax_elem − floor(log2 amax)), an E8M0 power of two | 1 | NaN (E8M0 NaN: the block is NaN) |
enum Scaling {
  /// Transformer Engine's delayed-scaling formula: (fpMax / amax) / 2^margin, keeping `previous`
  /// when amax is 0, Inf or NaN or the new scale is not finite.
  static func delayedScale(amax: Float, fp8Max: Float, margin: Int, previous: Float) -> Float {
    guard amax > 0, amax.isFinite else { return previous }
    let s = (fp8Max / amax) / Float(sign: .plus, exponent: margin, significand: 1)
    return s.isFinite && s > 0 ? s : previous
  }

  /// Per-tensor (or per-group) current scaling: fpMax / amax; 1 when amax is 0, Inf or NaN.
  /// `powerOfTwo` rounds the scale down to a power of two (so that scaling is exact).
  static func currentScale(amax: Float, fp8Max: Float, powerOfTwo: Bool) -> Float {
    guard amax > 0, amax.isFinite else { return 1 }
    var s = fp8Max / amax
    if !s.isFinite { s = .greatestFiniteMagnitude }
    if powerOfTwo { s = Float(sign: .plus, exponent: s.exponent, significand: 1) }
    return s
  }

  /// OCP MX scale for a block of 32: X = 2^(floor(log2 amax) − emax_elem) is the E8M0 shared scale,
  /// returned here as its inverse (the multiplier), clamped to the E8M0 range 2^±127.
  static func mxScale(amax: Float, format: ElementFormat) -> Float {
    if amax.isNaN || amax.isInfinite { return .nan }
    guard amax > 0 else { return 1 }
    let emaxElem = format == .e5m2 ? 15 : 8
    let e = Swift.min(127, Swift.max(-127, Int(amax.exponent) - emaxElem))
    return Float(sign: .plus, exponent: -e, significand: 1)
  }
}

/// Transformer Engine DelayedScaling state of one tensor: an amax history of `length` steps, the
/// reduction algorithm, a margin and the current scale. During a step, every cast observes its
/// amax (`observe`); at the end of the step `update()` pushes the step's amax into the history
/// (the oldest entry rolls out) and recomputes the scale that the next step will use. A NaN or
/// Inf amax in the window keeps the previous scale until it rolls out.
package struct DelayedScaling: Sendable, Codable, Equatable {
  /// Ring buffer of the last `length` amaxes (0 where no step has been recorded yet).
  package private(set) var history: [Float]
  package private(set) var position: Int = 0
  package var algorithm: AmaxAlgorithm
  package var margin: Int
  package var fp8Max: Float
  package var scale: Float = 1
  /// Largest amax observed during the current step (NaN if any cast saw NaN).
  package private(set) var pending: Float = 0
  package private(set) var observed = false

  package init(length: Int = 1024, algorithm: AmaxAlgorithm = .max, margin: Int = 0, fp8Max: Float = 448) {
    history = [Float](repeating: 0, count: Swift.max(1, length))
    self.algorithm = algorithm; self.margin = margin; self.fp8Max = fp8Max
  }

  package mutating func observe(_ amax: Float) {
    if amax.isNaN || pending.isNaN { pending = .nan } else { pending = Swift.max(pending, amax) }
    observed = true
  }

  /// The amax the next scale is computed from (NaN if one is in the window).
  package var windowAmax: Float {
    switch algorithm {
    case .mostRecent:
      return history[(position + history.count - 1) % history.count]
    case .max:
      var m: Float = 0
      for a in history { if a.isNaN { return .nan }; m = Swift.max(m, a) }
      return m
    }
  }

  /// Ends a step: records the step's amax (if any cast ran) and recomputes the scale.
  package mutating func update() { update(amax: pending) }

  /// Ends a step with its amax given: ``pending`` reduced (max) across data-parallel replicas.
  package mutating func update(amax: Float) {
    guard observed else { return }
    history[position] = amax
    position = (position + 1) % history.count
    pending = 0
    observed = false
    scale = Scaling.delayedScale(amax: windowAmax, fp8Max: fp8Max, margin: margin, previous: scale)
  }

  /// Sets the scale directly from a fresh amax (periodic re-calibration), also recording it.
  package mutating func recalibrate(amax: Float) {
    scale = Scaling.delayedScale(amax: amax, fp8Max: fp8Max, margin: margin, previous: scale)
  }

  /// Restores a saved state (checkpoints).
  package init(history: [Float], position: Int, algorithm: AmaxAlgorithm, margin: Int, fp8Max: Float, scale: Float) {
    self.history = history; self.position = position; self.algorithm = algorithm
    self.margin = margin; self.fp8Max = fp8Max; self.scale = scale
  }
}
