// The FP32 model on the C kernels: against the FP64 Swift reference of the same weights (the
// reference is itself checked against finite differences in GradientCheckTests), and the same bits
// for every thread count and SIMD path.
import FP8
import Testing
@testable import MixedPrecision
import _TestSupport

private func plainHook<T: TrainScalar>() -> MatmulHook<T> {
  { (_, _, a, b, m, n, k) throws(TrainingError) in plainMatmul(a, b, m: m, n: n, k: k) }
}

private func engineHook(_ kernels: KernelContext) -> MatmulHook<Float> {
  let engine = IdealMatmulEngine(kernels: kernels)
  return { (_, _, a, b, m, n, k) throws(TrainingError) in
    try engine.matmul(Operand(values: a.values, transposed: a.transposed), Operand(values: b.values, transposed: b.transposed),
                      m: m, n: n, k: k, numerics: .ideal)
  }
}

@Suite struct KernelPathTests {
  /// Loss and every gradient of a Float model (C kernels, one FMA chain per product) against the
  /// same model in FP64 (Swift reference layers): they differ only by FP32 rounding.
  @Test(arguments: [false, true])
  func floatModelMatchesFP64Reference(fp16: Bool) throws {
    let cfg = TransformerConfig(vocab: 11, maxSeq: 9, d: 24, heads: 3, layers: 2)
    var rng = TrainRNG(seed: 5)
    var m32 = Transformer<Float>(config: cfg, rng: &rng)
    m32.params = m32.params.map { p in p.map { $0 + Float(rng.uniform() - 0.5) * 0.2 } }
    var m64 = Transformer<Double>(config: cfg, params: m32.params.map { $0.map(Double.init) })
    m32.fp16Schedule = fp16; m64.fp16Schedule = fp16
    let n = 3 * 9
    let tokens = (0..<n).map { _ in rng.int(below: 11) }, targets = (0..<n).map { _ in rng.int(below: 11) }
    let batch = Batch(tokens: tokens, targets: targets, weights: (0..<n).map { Float($0 % 4 == 0 ? 0 : 1) }, batch: 3, seq: 9)
    let (l32, g32) = try m32.lossAndGradients(batch, hook: engineHook(KernelContext()))
    let (l64, g64) = try m64.lossAndGradients(batch, hook: plainHook())
    #expect(abs(Double(l32) - l64) / l64 < (fp16 ? 1e-3 : 1e-6), "loss \(l32) vs \(l64)")
    for (i, name) in cfg.parameterShapes.map(\.name).enumerated() {
      let scale = g64[i].reduce(0) { max($0, abs($1)) }
      let worst = zip(g32[i], g64[i]).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
      // FP16 rounding of the schedule makes the two runs round differently where the FP64 and
      // FP32 values straddle an FP16 rounding boundary.
      #expect(worst <= scale * (fp16 ? 3e-2 : 1e-4), "\(name): worst difference \(worst), largest gradient \(scale)")
    }
  }

  /// FP32 training: the same losses and weights, bit for bit, for 1, 2 and 3 threads on every SIMD
  /// path.
  @Test func fp32TrainingIsIdenticalAcrossThreadsAndISAs() throws {
    let task = try TextTask.wordChain(characters: 50_000, sequenceLength: 16)
    var o = TrainingOptions()
    o.recipe = .fp32; o.steps = 3; o.microBatch = 3; o.accumulation = 2; o.seed = 7
    let config = TransformerConfig(vocab: task.vocab, maxSeq: 16, d: 32, heads: 4, layers: 2)
    func run(_ threads: Int, _ isa: ISA) throws -> ([UInt32], [[UInt32]]) {
      o.isa = isa
      let t = try Trainer(options: o, task: task, engine: IdealMatmulEngine(kernels: KernelContext(isa: isa, threads: threads)),
                          model: config, threads: threads)
      let losses = try (0..<3).map { _ in try t.trainStep().loss.bitPattern }
      return (losses, t.model.params.map { $0.map(\.bitPattern) })
    }
    let reference = try run(1, .scalar)
    #expect(Set(reference.0).count == 3, "the loss must move")
    for isa in ISA.supported {
      for threads in [1, 2, 3] {
        let r = try run(threads, isa)
        #expect(r.0 == reference.0 && r.1 == reference.1, "\(isa), \(threads) threads")
      }
    }
  }
}
