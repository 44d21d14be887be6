// `fp8-bench nn`: the layer kernels of cfp8_nn.h and the FP32 GEMM on a transformer's shapes,
// each against the Swift code the training engine runs today for the same operation (its formulas
// copied here from Sources/MixedPrecision: Layers.swift, MatmulEngine.swift's gemmKOrder,
// Optimizer.swift), measured alternately in the same run; medians.
import ArgumentParser
import FP8
import Foundation

struct NNBench: ParsableCommand, RepeatedSuite {
  static let configuration = CommandConfiguration(
    commandName: "nn",
    abstract: "Layer kernels (GELU, softmax, LayerNorm, add, cross-entropy, AdamW) and FP32 GEMM shapes vs today's Swift code.")

  static let defaultReps = 7
  static let quickHelp = "Fewer repetitions."
  @OptionGroup var common: RepetitionOptions<Self>
  @Option(help: "Threads for the C kernels (the Swift baseline runs on one).") var threads: Int = 1
  @Option(help: "Models: default (d 64, 4 heads, seq 32, 6 sequences) and/or nanogpt (d 384, 6 heads, seq 256, 2 sequences).")
  var models: String = "default,nanogpt"
  @Flag(help: "Time by process CPU time (robust on a shared machine for one thread).") var cpuTime = false

  struct Model {
    var name: String, d: Int, heads: Int, seq: Int, sequences: Int, vocab: Int, parameters: Int
    var tokens: Int { seq * sequences }
    var dh: Int { d / heads }
  }
  static let presets: [String: Model] = [
    "default": Model(name: "default", d: 64, heads: 4, seq: 32, sequences: 6, vocab: 26, parameters: 105_498),
    "nanogpt": Model(name: "nanogpt", d: 384, heads: 6, seq: 256, sequences: 2, vocab: 65, parameters: 10_795_841),
  ]

  func run() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    let chosen = try models.split(separator: ",").map { name -> Model in
      guard let m = Self.presets[String(name)] else { throw ValidationError("unknown model '\(name)' (default, nanogpt)") }
      return m
    }
    let reps = common.repetitions
    if !common.json {
      print("fp8-bench nn: C kernels on ISA \(ISA.default), \(threads) thread(s); Swift baseline (today's engine code), 1 thread;")
      print("median of \(reps), alternating; " + (cpuTime ? "process CPU time" : "wall clock"))
      print(pad("model", 9) + pad("operation", 22) + pad("shape", 17) + pad("C", 14) + pad("Swift", 14) + "ratio")
    }
    for m in chosen {
      for row in try kernelRows(m, reps: reps) + gemmRows(m, reps: reps) { emit(row) }
    }
  }

  struct Row { var model: String, op: String, shape: String, unit: String, work: Double, c: Double, swift: Double }

  func emit(_ r: Row) {
    let c = r.work / r.c, s = r.work / r.swift
    if common.json {
      print("{\"suite\":\"nn\",\"model\":\"\(r.model)\",\"op\":\"\(r.op)\",\"shape\":\"\(r.shape)\",\"unit\":\"\(r.unit)\",\"c\":\(fmt(c, 3)),\"swift\":\(fmt(s, 3)),\"ratio\":\(fmt(c / s, 2)),\"threads\":\(threads),\"isa\":\"\(ISA.default)\"}")
    } else {
      print(pad(r.model, 9) + pad(r.op, 22) + pad(r.shape, 17) + pad(fmt(c, 2) + " " + r.unit, 14)
            + pad(fmt(s, 2) + " " + r.unit, 14) + fmt(c / s, 1) + "×")
    }
  }

  /// Median seconds of `c` and of `swift`, run alternately (one warm-up each).
  func timeBoth(_ reps: Int, c: () throws -> Void, swift: () throws -> Void) rethrows -> (Double, Double) {
    try c()
    try swift()
    var tc: [Double] = [], ts: [Double] = []
    for _ in 0..<max(1, reps) {
      tc.append(try seconds(cpu: cpuTime, c))
      ts.append(try seconds(cpu: cpuTime, swift))
    }
    return (medianOf(tc), medianOf(ts))
  }

  // MARK: layer kernels

  func kernelRows(_ m: Model, reps: Int) throws -> [Row] {
    let t = Int32(threads), isa = ISA.default.rawValue, n = m.tokens, f = 4 * m.d
    var rng = UInt64(0x5EED &+ UInt64(m.d))
    func values(_ count: Int, _ scale: Float) -> [Float] {
      (0..<count).map { _ in
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(Int32(truncatingIfNeeded: rng >> 32)) / Float(Int32.max)) * scale
      }
    }
    var rows: [Row] = []
    func add(_ op: String, _ shape: String, elements: Int, _ c: () throws -> Void, _ s: () throws -> Void) rethrows {
      let (tc, ts) = try timeBoth(reps, c: c, swift: s)
      rows.append(Row(model: m.name, op: op, shape: shape, unit: "Gel/s", work: Double(elements) / 1e9, c: tc, swift: ts))
    }

    // GELU on the MLP's pre-activations
    let pre = values(n * f, 3), dact = values(n * f, 1)
    var out = [Float](repeating: 0, count: n * f)
    try add("gelu", "\(n)×\(f)", elements: n * f, {
      try pre.withUnsafeBufferPointer { x in try out.withUnsafeMutableBufferPointer { y in
        try CKernels.gelu(x.baseAddress, y.baseAddress, count: n * f, isa: isa, threads: t) } }
    }, { out = SwiftBaseline.gelu(pre) })
    try add("gelu backward", "\(n)×\(f)", elements: n * f, {
      try dact.withUnsafeBufferPointer { dy in try pre.withUnsafeBufferPointer { x in try out.withUnsafeMutableBufferPointer { dx in
        try CKernels.geluBackward(dy: dy.baseAddress, x: x.baseAddress, dx: dx.baseAddress, count: n * f, isa: isa, threads: t) } } }
    }, { out = SwiftBaseline.geluBackward(dact, pre) })

    // causal softmax of the attention scores, FP16 probabilities (the precision schedule)
    let bh = m.sequences * m.heads, scores = values(bh * m.seq * m.seq, 4), dp = values(bh * m.seq * m.seq, 1)
    let scale = 1 / Float(m.dh).squareRoot()
    var probs = [Float](repeating: 0, count: scores.count)
    let live = bh * m.seq * (m.seq + 1) / 2
    try add("softmax causal f16", "\(bh)×\(m.seq)×\(m.seq)", elements: live, {
      try scores.withUnsafeBufferPointer { x in try probs.withUnsafeMutableBufferPointer { y in
        try CKernels.softmax(x.baseAddress, y.baseAddress, rows: bh * m.seq, cols: m.seq, scale: scale, causal: true,
                             round: ElementFormat.f16.rawValue, isa: isa, threads: t) } }
    }, { probs = SwiftBaseline.softmaxCausal(scores, rows: bh * m.seq, seq: m.seq, scale: scale, fp16: true) })
    var dscores = probs
    try add("softmax backward", "\(bh)×\(m.seq)×\(m.seq)", elements: live, {
      try probs.withUnsafeBufferPointer { p in try dp.withUnsafeBufferPointer { g in try dscores.withUnsafeMutableBufferPointer { o in
        try CKernels.softmaxBackward(p: p.baseAddress, dp: g.baseAddress, dx: o.baseAddress, rows: bh * m.seq, cols: m.seq,
                                     scale: scale, causal: true, isa: isa, threads: t) } } }
    }, { dscores = SwiftBaseline.softmaxCausalBackward(probs, dp, rows: bh * m.seq, seq: m.seq, scale: scale) })

    // LayerNorm over d, FP16 outputs, and its backward
    let h = values(n * m.d, 2), g = values(m.d, 1).map { 1 + 0.1 * $0 }, b = values(m.d, 0.1), dy = values(n * m.d, 1)
    var y = [Float](repeating: 0, count: n * m.d), mean = [Float](repeating: 0, count: n), rstd = mean
    try add("layernorm f16", "\(n)×\(m.d)", elements: n * m.d, {
      try h.withUnsafeBufferPointer { x in try g.withUnsafeBufferPointer { pg in try b.withUnsafeBufferPointer { pb in
        try y.withUnsafeMutableBufferPointer { py in try mean.withUnsafeMutableBufferPointer { pm in try rstd.withUnsafeMutableBufferPointer { pr in
          try CKernels.layerNorm(x: x.baseAddress, gamma: pg.baseAddress, beta: pb.baseAddress, rows: n, d: m.d, eps: 1e-5,
                                 y: py.baseAddress, mean: pm.baseAddress, rstd: pr.baseAddress,
                                 round: ElementFormat.f16.rawValue, isa: isa, threads: t) } } } } } }
    }, { _ = SwiftBaseline.layerNorm(h, g, b, rows: n, d: m.d, fp16: true) })
    let cache = SwiftBaseline.layerNorm(h, g, b, rows: n, d: m.d, fp16: false)
    var dx = y, dg = g, db = b
    try add("layernorm backward", "\(n)×\(m.d)", elements: n * m.d, {
      try dy.withUnsafeBufferPointer { pdy in try h.withUnsafeBufferPointer { x in try mean.withUnsafeBufferPointer { pm in
        try rstd.withUnsafeBufferPointer { pr in try g.withUnsafeBufferPointer { pg in try dx.withUnsafeMutableBufferPointer { pdx in
          try dg.withUnsafeMutableBufferPointer { pdg in try db.withUnsafeMutableBufferPointer { pdb in
            try CKernels.layerNormBackward(dy: pdy.baseAddress, x: x.baseAddress, mean: pm.baseAddress, rstd: pr.baseAddress,
                                           gamma: pg.baseAddress, rows: n, d: m.d, dx: pdx.baseAddress, dgamma: pdg.baseAddress,
                                           dbeta: pdb.baseAddress, isa: isa, threads: t) } } } } } } } }
    }, { dx = SwiftBaseline.layerNormBackward(dy, cache.xhat, cache.rstd, g, rows: n, d: m.d, gg: &dg, gb: &db) })

    // residual add rounded to FP16
    let o = values(n * m.d, 1)
    var sum = o
    try add("residual add f16", "\(n)×\(m.d)", elements: n * m.d, {
      try h.withUnsafeBufferPointer { a in try o.withUnsafeBufferPointer { pb in try sum.withUnsafeMutableBufferPointer { py in
        try CKernels.add(a.baseAddress, pb.baseAddress, py.baseAddress, count: n * m.d, round: ElementFormat.f16.rawValue,
                         isa: isa, threads: t) } } }
    }, { for j in 0..<sum.count { sum[j] = Float(Float16(h[j] + o[j])) } })

    // cross-entropy over the vocabulary, with its gradient
    let logits = values(n * m.vocab, 4)
    let targets = (0..<n).map { Int32($0 * 7 % m.vocab) }, weights = [Float](repeating: 1, count: n)
    var dl = logits
    try add("cross-entropy", "\(n)×\(m.vocab)", elements: n * m.vocab, {
      _ = try logits.withUnsafeBufferPointer { l in try targets.withUnsafeBufferPointer { pt in try weights.withUnsafeBufferPointer { pw in
        try dl.withUnsafeMutableBufferPointer { pd in
          try CKernels.crossEntropy(logits: l.baseAddress, rows: n, vocab: m.vocab, targets: pt.baseAddress, weights: pw.baseAddress,
                                    gradScale: 1, dlogits: pd.baseAddress, isa: isa, threads: t) } } } }
    }, { dl = SwiftBaseline.crossEntropy(logits, targets: targets, weights: weights, rows: n, vocab: m.vocab).1 })

    // AdamW over every parameter of the model
    let count = m.parameters
    let grad = values(count, 0.01)
    var p = values(count, 0.1), mm = [Float](repeating: 0, count: count), vv = mm
    let step = AdamWStep(learningRate: 1e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1,
                         biasCorrection1: 0.1, biasCorrection2: 0.05)
    try add("adamw", "\(count)", elements: count, {
      try p.withUnsafeMutableBufferPointer { pp in try mm.withUnsafeMutableBufferPointer { pm in try vv.withUnsafeMutableBufferPointer { pv in
        try grad.withUnsafeBufferPointer { pg in
          try CKernels.adamW(param: pp.baseAddress, m: pm.baseAddress, v: pv.baseAddress, grad: pg.baseAddress, count: count,
                             step: step, isa: isa, threads: t) } } } }
    }, { SwiftBaseline.adamW(&p, &mm, &vv, grad, step: step) })
    return rows
  }

  // MARK: GEMM

  /// The linear layers' products (forward, dgrad, wgrad) and attention's batched products.
  func gemmRows(_ m: Model, reps: Int) throws -> [Row] {
    let n = m.tokens, d = m.d, f = 4 * d
    // (label, M, N, K, A transposed, B transposed) as the layers call them: y = x·Wᵀ (W stored out × in),
    // dx = dy·W, dW = dyᵀ·x
    let shapes: [(String, Int, Int, Int, Bool, Bool)] = [
      ("fwd qkv", n, 3 * d, d, false, true), ("fwd proj", n, d, d, false, true), ("fwd fc1", n, f, d, false, true),
      ("fwd fc2", n, d, f, false, true), ("dgrad qkv", n, d, 3 * d, false, false), ("dgrad fc2", n, f, d, false, false),
      ("wgrad qkv", 3 * d, d, n, true, false), ("wgrad fc2", d, f, n, true, false),
    ]
    var rows: [Row] = []
    var rng = UInt64(0xFEED &+ UInt64(d))
    func values(_ count: Int) -> [Float] {
      (0..<count).map { _ in
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int32(truncatingIfNeeded: rng >> 32)) / Float(Int32.max)
      }
    }
    let f32 = ElementFormat.f32.rawValue, isa = ISA.default.rawValue, t = Int32(threads)
    for (label, mm, nn, kk, ta, tb) in shapes {
      let a = values(mm * kk), b = values(kk * nn)
      var c = [Float](repeating: 0, count: mm * nn)
      let (tc, ts) = try timeBoth(reps, c: {
        try a.withUnsafeBufferPointer { pa in try b.withUnsafeBufferPointer { pb in try c.withUnsafeMutableBufferPointer { pc in
          try CKernels.gemm(
            m: mm, n: nn, k: kk,
            a: GEMMOperandDescriptor(data: pa.baseAddress, format: f32, transposed: ta, leadingDimension: ta ? mm : kk),
            b: GEMMOperandDescriptor(data: pb.baseAddress, format: f32, transposed: tb, leadingDimension: tb ? kk : nn),
            mode: .none, aScales: nil, bScales: nil, aMX: nil, bMX: nil, alpha: 1, beta: 0, c: nil, ldc: 0, bias: nil,
            d: UnsafeMutableRawPointer(pc.baseAddress), dFormat: f32, ldd: nn, dScale: 1, amax: nil, isa: isa, threads: t) } } }
      }, swift: {
        c = SwiftBaseline.matmul(a, transposedA: ta, b, transposedB: tb, m: mm, n: nn, k: kk)
      })
      rows.append(Row(model: m.name, op: "gemm " + label, shape: "\(mm)×\(nn)×\(kk)", unit: "GF/s",
                      work: 2 * Double(mm * nn * kk) / 1e9, c: tc, swift: ts))
    }
    // attention: S = Q·Kᵀ and O = P·V for every (sequence, head), heads side by side in [seq][3d]
    let w = 3 * d, bh = m.sequences * m.heads
    let qkv = values(n * w), p = values(bh * m.seq * m.seq)
    var s = [Float](repeating: 0, count: bh * m.seq * m.seq), o = [Float](repeating: 0, count: n * d)
    let products: [(String, Int, Int, Int)] = [("attn QKᵀ", m.seq, m.seq, m.dh), ("attn PV", m.seq, m.dh, m.seq)]
    for (label, mm, nn, kk) in products {
      let qk = label == "attn QKᵀ"
      let (tc, ts) = try timeBoth(reps, c: {
        try qkv.withUnsafeBufferPointer { q in try p.withUnsafeBufferPointer { pp in
          try s.withUnsafeMutableBufferPointer { ps in try o.withUnsafeMutableBufferPointer { po in
            let base = q.baseAddress!
            let batch = qk
              ? GEMMBatch(outer: m.sequences, inner: m.heads, aStrides: (m.seq * w, m.dh), bStrides: (m.seq * w, m.dh),
                          dStrides: (m.heads * m.seq * m.seq, m.seq * m.seq))
              : GEMMBatch(outer: m.sequences, inner: m.heads, aStrides: (m.heads * m.seq * m.seq, m.seq * m.seq),
                          bStrides: (m.seq * w, m.dh), dStrides: (m.seq * d, m.dh))
            let a = qk ? GEMMOperandDescriptor(data: base, format: f32, transposed: false, leadingDimension: w)
                       : GEMMOperandDescriptor(data: pp.baseAddress, format: f32, transposed: false, leadingDimension: m.seq)
            let b = qk ? GEMMOperandDescriptor(data: base + d, format: f32, transposed: true, leadingDimension: w)
                       : GEMMOperandDescriptor(data: base + 2 * d, format: f32, transposed: false, leadingDimension: w)
            try CKernels.gemm(batch: batch, m: mm, n: nn, k: kk, a: a, b: b, mode: .none, aScales: nil, bScales: nil,
                                     alpha: qk ? 1 / Float(m.dh).squareRoot() : 1, beta: 0, c: nil, ldc: 0, bias: nil,
                                     d: UnsafeMutableRawPointer(qk ? ps.baseAddress! : po.baseAddress!), dFormat: f32,
                                     ldd: qk ? m.seq : d, dScale: 1, amax: nil, isa: isa, threads: t) } } } }
      }, swift: {
        if qk { s = SwiftBaseline.attentionScores(qkv, sequences: m.sequences, seq: m.seq, heads: m.heads, d: d) }
        else { o = SwiftBaseline.attentionValues(p, qkv, sequences: m.sequences, seq: m.seq, heads: m.heads, d: d) }
      })
      rows.append(Row(model: m.name, op: label + " ×\(bh)", shape: "\(mm)×\(nn)×\(kk)", unit: "GF/s",
                      work: 2 * Double(bh * mm * nn * kk) / 1e9, c: tc, swift: ts))
    }
    return rows
  }
}

fileprivate func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
