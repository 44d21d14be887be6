import Deployment
import FP8
@testable import MixedPrecision
import Testing

@Suite("Deployment evaluation")
struct EvaluationTests {
  static func tinyModel() -> (Transformer<Float>, AdditionTask) {
    let task = AdditionTask(digits: 1)
    var rng = TrainRNG(seed: 42)
    let cfg = TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength, d: 16, heads: 2, layers: 1, ffnMultiplier: 2)
    return (Transformer<Float>(config: cfg, rng: &rng), task)
  }

  @Test("model sizes follow the formats' storage, and FP32 matches a plain FP64-checked forward")
  func sizes() throws {
    let (model, task) = Self.tinyModel()
    let ev = DeploymentEvaluator(model: model, task: task, isa: .auto, threads: 2, calibrationSequences: 16)
    let rows = try ev.table()
    let c = model.config, d = c.d, f = c.ffnMultiplier * d
    let linears = [(3 * d, d), (d, d), (f, d), (d, f), (c.vocab, d)]
    let total = c.parameterShapes.reduce(0) { $0 + $1.count }
    let linearCount = linears.reduce(0) { $0 + $1.0 * $1.1 }
    func expected(_ t: DeploymentTier) -> Int {
      switch t {
      case .fp32: return 4 * linearCount
      case .fp8, .int8: return linears.reduce(0) { $0 + $1.0 * $1.1 + 4 * $1.0 }
      case .fourBit(let fmt):
        return linears.reduce(0) { acc, s in
          let groups = s.0 * ((s.1 + fmt.groupSize - 1) / fmt.groupSize)
          return acc + s.0 * ((s.1 + 1) / 2) + groups * fmt.scaleBytes(fp16Scales: false) + (fmt == .nvfp4 ? 4 : 0)
        }
      }
    }
    for r in rows {
      #expect(r.linearBytes == expected(r.tier), "\(r.tier)")
      #expect(r.modelBytes == 4 * (total - linearCount) + r.linearBytes, "\(r.tier)")
      #expect(r.metric >= 0 && r.metric <= 1 && r.loss.isFinite)
    }
    // The FP32 row is the task's own evaluation with the plain product.
    let plain = try task.evaluate { (t, b, s) throws(TrainingError) in
      try model.logits(t, batch: b, seq: s, hook: { (_, _, a, w, m, n, k) throws(TrainingError) in plainMatmul(a, w, m: m, n: n, k: k) })
    }
    #expect(rows[0].metric == plain.metric)
    #expect(abs(rows[0].loss - plain.loss) <= 1e-5 * max(1, plain.loss))
    // Quantised tiers stay near FP32 on the held-out loss of this random model.
    for r in rows.dropFirst() { #expect(abs(r.loss - rows[0].loss) < 0.25 * rows[0].loss, "\(r.tier)") }
  }

  @Test("static calibration scales: threshold/127 per linear layer, ordered percentile ≤ max")
  func calibration() throws {
    let (model, task) = Self.tinyModel()
    let ev = DeploymentEvaluator(model: model, task: task, calibrationSequences: 16)
    let acts = try ev.calibrationActivations()
    #expect(acts.count == model.config.linearNames.count)
    let maxScales = try ev.activationScales(.max)
    let pctScales = try ev.activationScales(.percentile(99))
    for l in acts.indices {
      #expect(maxScales[l] == acts[l].map(abs).max()! / 127)
      #expect(pctScales[l] <= maxScales[l])
    }
  }
}
