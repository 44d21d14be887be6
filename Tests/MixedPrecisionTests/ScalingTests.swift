// Scale logic of every recipe, on the edge cases, against the formulas of Transformer Engine,
// torchao, DeepSeek-V3 and the OCP MX specification written out in the tests.
import FP8
import TensorCores
import Testing
@testable import MixedPrecision
import _TestSupport
import Foundation

/// Every finite E4M3 (OCP e4m3fn) value from the specification: bias 7, subnormals m/8 · 2^-6,
/// S.1111.111 is NaN (so the largest is 1.75 · 2^8 = 448).
private let e4m3Values: [Double] = {
  var v: [Double] = []
  for e in 0..<16 {
    for m in 0..<8 where !(e == 15 && m == 7) {
      v.append(e == 0 ? Double(m) / 8 * 0x1p-6 : (1 + Double(m) / 8) * pow(2, Double(e - 7)))
    }
  }
  return v
}()

/// Round to nearest E4M3, ties to the even mantissa, saturating at ±448 (satfinite).
private func e4m3Oracle(_ x: Double) -> Double {
  let a = min(abs(x), 448)
  // e4m3Values is increasing; index i has mantissa i % 8, so even i is the even mantissa.
  var lo = 0, hi = e4m3Values.count - 1
  while hi - lo > 1 { let mid = (lo + hi) / 2; if e4m3Values[mid] <= a { lo = mid } else { hi = mid } }
  let dl = a - e4m3Values[lo], dh = e4m3Values[hi] - a
  let best = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi)
  return x < 0 ? -e4m3Values[best] : e4m3Values[best]
}

@Suite struct ScalingTests {
  @Test func delayedFormula() {
    // scale = (FP8_MAX / amax) / 2^margin
    #expect(Scaling.delayedScale(amax: 2, fp8Max: 448, margin: 0, previous: 7) == 224)
    #expect(Scaling.delayedScale(amax: 2, fp8Max: 448, margin: 2, previous: 7) == 56)
    #expect(Scaling.delayedScale(amax: 1, fp8Max: 57344, margin: 0, previous: 7) == 57344)
  }

  @Test(arguments: [Float(0), .infinity, -.infinity, .nan])
  func delayedKeepsPreviousScale(amax: Float) {
    #expect(Scaling.delayedScale(amax: amax, fp8Max: 448, margin: 0, previous: 3.5) == 3.5)
    var d = DelayedScaling(length: 4)
    d.observe(4); d.update()
    #expect(d.scale == 112)
    d.observe(amax); d.update()
    #expect(d.scale == 112, "amax \(amax) must keep the previous scale")
  }

  @Test func delayedTinyAmaxWithInfiniteScaleKeepsPrevious() {
    #expect(Scaling.delayedScale(amax: Float.leastNonzeroMagnitude, fp8Max: 448, margin: 0, previous: 2) == 2)
  }

  @Test func historyMaxAndRollOver() {
    var d = DelayedScaling(length: 3, algorithm: .max)
    for a: Float in [8, 1, 2] { d.observe(a); d.update() }
    #expect(d.scale == 448 / 8)  // window [8, 1, 2]
    d.observe(4); d.update()     // 8 rolls out: window [1, 2, 4]
    #expect(d.scale == 448 / 4)
    d.observe(0.5); d.update()   // window [2, 4, 0.5]
    #expect(d.scale == 448 / 4)
    d.observe(0.5); d.update()   // window [4, 0.5, 0.5]
    #expect(d.scale == 448 / 4)
    d.observe(0.5); d.update()   // window [0.5, 0.5, 0.5]
    #expect(d.scale == 448 / 0.5)
    // Several casts in one step: the step's amax is their maximum.
    d.observe(1); d.observe(16); d.observe(2); d.update()
    #expect(d.scale == 448 / 16)
  }

  @Test func nanInHistoryFreezesScaleUntilItRollsOut() {
    var d = DelayedScaling(length: 2, algorithm: .max)
    d.observe(2); d.update()
    #expect(d.scale == 224)
    d.observe(.nan); d.update()  // window [2, NaN]
    #expect(d.scale == 224)
    d.observe(4); d.update()     // window [NaN, 4]
    #expect(d.scale == 224)
    d.observe(4); d.update()     // window [4, 4]
    #expect(d.scale == 112)
  }

  @Test func mostRecent() {
    var d = DelayedScaling(length: 8, algorithm: .mostRecent)
    for a: Float in [64, 1, 2] { d.observe(a); d.update() }
    #expect(d.scale == 224)
    // Default history length is Transformer Engine's 1024.
    #expect(DelayedScaling().history.count == 1024)
  }

  @Test func currentScaling() {
    #expect(Scaling.currentScale(amax: 3, fp8Max: 448, powerOfTwo: false) == Float(448) / 3)
    #expect(Scaling.currentScale(amax: 3, fp8Max: 448, powerOfTwo: true) == 128)  // 149.3 → 2^7
    for bad: Float in [0, .infinity, .nan] { #expect(Scaling.currentScale(amax: bad, fp8Max: 448, powerOfTwo: false) == 1) }
  }

  @Test func mxScale() {
    // OCP MX: shared exponent floor(log2 amax) − emax(E4M3 = 8); the multiplier is its inverse.
    #expect(Scaling.mxScale(amax: 448, format: .e4m3) == 1)
    #expect(Scaling.mxScale(amax: 1, format: .e4m3) == 256)
    #expect(Scaling.mxScale(amax: 1.5, format: .e4m3) == 256)
    #expect(Scaling.mxScale(amax: 1, format: .e5m2) == 32768)
    #expect(Scaling.mxScale(amax: 0, format: .e4m3) == 1)
    #expect(Scaling.mxScale(amax: .nan, format: .e4m3).isNaN)
    #expect(Scaling.mxScale(amax: 0x1p-140, format: .e4m3) == 0x1p127)  // clamped to the E8M0 range
  }

  /// The quantiser at every granularity against an E4M3 oracle from the specification.
  @Test(arguments: [ScaleGranularity.perTensor, .perChannel, .tile128, .block128, .mxfp8])
  func castMatchesOracle(granularity: ScaleGranularity) throws {
    var rng = SplitMix64(seed: 11)
    let outer = 130, k = 260
    // Rows of very different magnitudes, so that per-row / per-block scales matter.
    let x: [Float] = (0..<(outer * k)).map { i in
      let u = Double(rng.next() >> 11) * 0x1p-53 * 2 - 1
      return Float(u * pow(10, Double((i / k) % 5) - 2))
    }
    let scale: FP8Cast.Scale = granularity == .mxfp8 ? .mx : .current(powerOfTwo: false)
    let (payload, deq, stats) = try FP8Cast(format: .e4m3, granularity: granularity, scale: scale).apply(x, rows: outer, cols: k)
    #expect(payload.bits.count == x.count)
    // Group of each element, written out independently of the quantiser's loops.
    func group(_ o: Int, _ p: Int) -> [Int] {
      switch granularity {
      case .perTensor: return [0]
      case .perChannel: return [o]
      case .tile128: return [o, p / 128]
      case .mxfp8: return [o, p / 32]
      case .block128: return [o / 128, p / 128]
      }
    }
    var groupAmax: [[Int]: Float] = [:]
    for o in 0..<outer { for p in 0..<k { groupAmax[group(o, p), default: 0] = max(groupAmax[group(o, p), default: 0], abs(x[o * k + p])) } }
    for o in 0..<outer {
      for p in 0..<k {
        let amax = groupAmax[group(o, p)]!
        let scale: Float = granularity == .mxfp8 ? Float(pow(2, Double(8 - Int(floor(log2(Double(amax))))))) : 448 / amax
        let want = Float(e4m3Oracle(Double(x[o * k + p] * scale))) * (1 / scale)
        #expect(deq[o * k + p] == want, "element (\(o), \(p))")
        if deq[o * k + p] != want { return }
      }
    }
    #expect(try payload.dequantize() == deq)
    #expect(stats.saturated == 0 || granularity == .mxfp8)
    #expect(stats.sqnrDB > 25 && stats.sqnrDB < 45)
  }

  @Test func statsSaturationAndFlush() throws {
    // Tensor scale 1 (delayed, first step): 1000 saturates to 448, 1e-5 flushes to zero.
    let x: [Float] = [1000, -1000, 1e-5, 1, 0, 2]
    let (_, deq, s) = try FP8Cast(format: .e4m3, granularity: .perTensor, scale: .fixed(1)).apply(x, rows: 1, cols: 6)
    #expect(deq == [448, -448, 0, 1, 0, 2])
    #expect(s.saturated == 2.0 / 6)
    #expect(s.flushed == 1.0 / 5)
    #expect(s.amax == 1000)
  }

  @Test func lossScaler() {
    var s = LossScaler(dynamic: true, initial: 1024, growthInterval: 2)
    #expect(s.record(finite: false) == false)
    #expect(s.scale == 512 && s.skippedSteps == 1)
    #expect(s.record(finite: true) && s.scale == 512)
    #expect(s.record(finite: true) && s.scale == 1024)
  }

  @Test func clipping() {
    var g: [[Float]] = [[3, -8], [10, 0.5]]
    Clipping.byValue(&g, limit: 6)
    #expect(g == [[3, -6], [6, 0.5]])
    var h: [[Float]] = [[3], [4]]
    let n = Clipping.byGlobalNorm(&h, maxNorm: 1)
    #expect(n == 5)
    #expect(abs(h[0][0] - 0.6) < 1e-7 && abs(h[1][0] - 0.8) < 1e-7)
  }

  @Test func gpuSelection() {
    #expect(TrainingGPU(name: "sm_80")?.numerics == .gpu(.a100, accumulation: .fast))
    #expect(TrainingGPU(name: "h100")?.numerics == .gpu(.h100, accumulation: .promoted(every: 128)))
    #expect(TrainingGPU(name: "h100-fast")?.numerics == .gpu(.h100, accumulation: .fast))
    #expect(TrainingGPU(name: "b200")?.numerics == .gpu(.b200, accumulation: .fast))
    #expect(TrainingGPU(name: "tpu") == nil)
  }
}

/// The recipe's end of step, where data-parallel replicas agree: the amaxes it observed are what
/// it reports, and the amaxes it is given (a max across replicas) are what its scales follow.
@Suite struct RecipeStepTests {
  @Test func delayedScalingFollowsTheReducedAmaxes() {
    var o = TrainingOptions()
    o.recipe = .delayed; o.amaxHistoryLength = 4
    var r = o.recipe.implementation.init(options: o, linearNames: ["a", "b"])
    let site = CastSite(linear: 1, kind: .weight, role: .forward)
    r.observe(amax: 2, at: site)
    r.observe(amax: 7, at: CastSite(linear: 1, kind: .weight, role: .gradInput))
    // Per layer and kind (activation, weight, gradient): only layer b's weight was observed.
    #expect(r.stepAmaxes == [0, 0, 0, 0, 7, 0])
    // Another replica saw 14: the max across replicas sets the scale, 448 / 14.
    r.endStep(amaxes: [0, 0, 0, 0, 14, 0])
    guard case .fp8(let cast) = r.cast(at: site), case .fixed(let s) = cast.scale else {
      Issue.record("delayed scaling casts with a fixed per-tensor scale"); return
    }
    #expect(s == 448 / 14)
    #expect(r.scalingState[1][1].history == [14, 0, 0, 0])
    // Tensors no cast observed keep their scale and history.
    #expect(r.scalingState[0][0].scale == 1 && r.scalingState[0][0].history == [0, 0, 0, 0])
  }

  @Test func statelessRecipesReportNothing() throws {
    for recipe in Recipe.allCases where recipe != .delayed {
      var o = TrainingOptions()
      o.recipe = recipe
      var r = recipe.implementation.init(options: o, linearNames: ["a"])
      r.observe(amax: 3, at: CastSite(linear: 0, kind: .activation, role: .forward))
      #expect(r.stepAmaxes.isEmpty && r.scalingState.isEmpty, "\(recipe)")
      // A checkpoint written before this version holds histories for every recipe: ignored.
      try r.restore(scalingState: [[DelayedScaling(), DelayedScaling(), DelayedScaling()]])
    }
  }
}
