import FP8

/// Where the C kernels of a training step run: the SIMD path and the OpenMP threads. Every path and
/// every thread count gives the same bits.
public struct KernelContext: Sendable, Hashable {
  public var isa: ISA
  public var threads: Int
  public init(isa: ISA = .auto, threads: Int = 1) { self.isa = isa; self.threads = threads }
}

/// A row-major FP32 matrix view for the C GEMM: op(X)[r, c] is `base[r·ld + c]`, or `base[c·ld + r]`
/// when transposed.
struct FloatMatrix {
  var base: UnsafePointer<Float>
  var transposed = false
  var ld: Int
}

/// The FP32 training kernels over the C engine (cfp8_gemm and friends).
enum FloatKernels {
  /// D (m × n, row stride ldd) = op(A) · op(B), one FMA chain per element in k order from +0
  /// (cfp8_gemm's numerics).
  /// With `batch`, that product for every (outer, inner) pair (`cfp8_gemm_batched`).
  static func gemm(m: Int, n: Int, k: Int, _ a: FloatMatrix, _ b: FloatMatrix, into d: UnsafeMutablePointer<Float>, ldd: Int,
                   batch: GEMMBatch? = nil, _ ctx: KernelContext) throws(FP8Error) {
    let f32 = ElementFormat.f32.rawValue
    try CKernels.gemm(
      batch: batch, m: m, n: n, k: k,
      a: GEMMOperandDescriptor(data: UnsafeRawPointer(a.base), format: f32, transposed: a.transposed, leadingDimension: a.ld),
      b: GEMMOperandDescriptor(data: UnsafeRawPointer(b.base), format: f32, transposed: b.transposed, leadingDimension: b.ld),
      mode: .none, aScales: nil, bScales: nil, alpha: 1, beta: 0, c: nil, ldc: ldd, bias: nil,
      d: UnsafeMutableRawPointer(d), dFormat: f32, ldd: ldd, dScale: 1, amax: nil, isa: ctx.isa.rawValue, threads: Int32(ctx.threads))
  }
}

extension FloatKernels {
  /// An array of n values filled by `body` (which writes all of them).
  static func filled(_ n: Int, _ body: (UnsafeMutablePointer<Float>) throws(FP8Error) -> Void) throws(TrainingError) -> [Float] {
    if n == 0 { return [] }
    var failure: FP8Error?
    let out = [Float](unsafeUninitializedCapacity: n) { buf, count in
      do throws(FP8Error) { try body(buf.baseAddress!) } catch { failure = error }
      count = n
    }
    if let failure { throw .fp8(failure) }
    return out
  }

  static func run(_ body: () throws(FP8Error) -> Void) throws(TrainingError) {
    do { try body() } catch { throw .fp8(error) }
  }

  /// Strided products over (sequence, head) pairs: product (b, h) reads A, B and writes D moved
  /// by b·outer + h·inner elements (`cfp8_gemm_batched`; threads take whole products).
  static func gemmBatched(batch: Int, heads: Int, m: Int, n: Int, k: Int, _ a: FloatMatrix, aStrides: (outer: Int, inner: Int),
                          _ b: FloatMatrix, bStrides: (outer: Int, inner: Int), into d: UnsafeMutablePointer<Float>, ldd: Int,
                          dStrides: (outer: Int, inner: Int), _ ctx: KernelContext) throws(FP8Error) {
    try gemm(m: m, n: n, k: k, a, b, into: d, ldd: ldd,
             batch: GEMMBatch(outer: batch, inner: heads, aStrides: aStrides, bStrides: bStrides, dStrides: dStrides), ctx)
  }

  /// Causal multi-head attention (the semantics of ``Layers/attentionForward(_:batch:seq:heads:d:fp16:)``):
  /// S = QKᵀ and O = PV as batched products over (sequence, head), the causal softmax of S/√dh
  /// between them (`round`: the precision schedule's rounding of P).
  static func attentionForward(_ qkv: [Float], batch: Int, seq: Int, heads: Int, d: Int, round: Int32,
                               _ ctx: KernelContext) throws(TrainingError) -> (out: [Float], probs: [Float]) {
    let dh = d / heads, w = 3 * d, tt = seq * seq
    let scale = 1 / Float(dh).squareRoot()
    let rowStride = (outer: seq * w, inner: dh), pStride = (outer: heads * tt, inner: tt)
    let (isa, threads) = (ctx.isa.rawValue, Int32(ctx.threads))
    return try qkv.withUnsafeBufferPointer { (q) throws(TrainingError) in
      let q0 = q.baseAddress!
      let probs = try filled(batch * heads * tt) { (p) throws(FP8Error) in
        try gemmBatched(batch: batch, heads: heads, m: seq, n: seq, k: dh, FloatMatrix(base: q0, ld: w), aStrides: rowStride,
                        FloatMatrix(base: q0 + d, transposed: true, ld: w), bStrides: rowStride, into: p, ldd: seq,
                        dStrides: pStride, ctx)
        try CKernels.softmax(p, p, rows: batch * heads * seq, cols: seq, scale: scale, causal: true, round: round, isa: isa,
                             threads: threads)
      }
      let out = try probs.withUnsafeBufferPointer { (p) throws(TrainingError) in
        try filled(batch * seq * d) { (o) throws(FP8Error) in
          try gemmBatched(batch: batch, heads: heads, m: seq, n: dh, k: seq, FloatMatrix(base: p.baseAddress!, ld: seq), aStrides: pStride,
                          FloatMatrix(base: q0 + 2 * d, ld: w), bStrides: rowStride, into: o, ldd: d,
                          dStrides: (outer: seq * d, inner: dh), ctx)
        }
      }
      return (out, probs)
    }
  }

  /// The gradient of ``attentionForward(_:batch:seq:heads:d:round:_:)`` with respect to qkv:
  /// dP = dO·Vᵀ, dS = P ⊙ (dP − Σ P ⊙ dP)/√dh on the causal triangle, dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q.
  static func attentionBackward(_ dout: [Float], _ qkv: [Float], _ probs: [Float], batch: Int, seq: Int, heads: Int, d: Int,
                                _ ctx: KernelContext) throws(TrainingError) -> [Float] {
    let dh = d / heads, w = 3 * d, tt = seq * seq
    let scale = 1 / Float(dh).squareRoot()
    let rowStride = (outer: seq * w, inner: dh), pStride = (outer: heads * tt, inner: tt), oStride = (outer: seq * d, inner: dh)
    let (isa, threads) = (ctx.isa.rawValue, Int32(ctx.threads))
    return try qkv.withUnsafeBufferPointer { (q) throws(TrainingError) in
      try probs.withUnsafeBufferPointer { (p) throws(TrainingError) in
        try dout.withUnsafeBufferPointer { (g) throws(TrainingError) in
          let q0 = q.baseAddress!, p0 = p.baseAddress!, g0 = g.baseAddress!
          let ds = try filled(batch * heads * tt) { (s) throws(FP8Error) in
            try gemmBatched(batch: batch, heads: heads, m: seq, n: seq, k: dh, FloatMatrix(base: g0, ld: d), aStrides: oStride,
                            FloatMatrix(base: q0 + 2 * d, transposed: true, ld: w), bStrides: rowStride, into: s, ldd: seq,
                            dStrides: pStride, ctx)
            try CKernels.softmaxBackward(p: p0, dp: s, dx: s, rows: batch * heads * seq, cols: seq, scale: scale, causal: true,
                                         isa: isa, threads: threads)
          }
          return try ds.withUnsafeBufferPointer { (sb) throws(TrainingError) in
            let s0 = sb.baseAddress!
            return try filled(qkv.count) { (dq) throws(FP8Error) in
              try gemmBatched(batch: batch, heads: heads, m: seq, n: dh, k: seq, FloatMatrix(base: p0, transposed: true, ld: seq),
                              aStrides: pStride, FloatMatrix(base: g0, ld: d), bStrides: oStride, into: dq + 2 * d, ldd: w,
                              dStrides: rowStride, ctx)
              try gemmBatched(batch: batch, heads: heads, m: seq, n: dh, k: seq, FloatMatrix(base: s0, ld: seq), aStrides: pStride,
                              FloatMatrix(base: q0 + d, ld: w), bStrides: rowStride, into: dq, ldd: w, dStrides: rowStride, ctx)
              try gemmBatched(batch: batch, heads: heads, m: seq, n: dh, k: seq, FloatMatrix(base: s0, transposed: true, ld: seq),
                              aStrides: pStride, FloatMatrix(base: q0, ld: w), bStrides: rowStride, into: dq + d, ldd: w,
                              dStrides: rowStride, ctx)
            }
          }
        }
      }
    }
  }
}

// The transformer's layers on the C kernels when T is Float; the Swift reference (``Layers``)
// otherwise (the FP64 gradient checks).
extension Transformer {
  @inline(__always) static func asFloat(_ x: [T]) -> [Float] { unsafeBitCast(x, to: [Float].self) }
  @inline(__always) static func fromFloat(_ x: [Float]) -> [T] { unsafeBitCast(x, to: [T].self) }
  var isFloat: Bool { T.self == Float.self }
  /// The precision schedule's rounding of LayerNorm outputs, probabilities and residual sums.
  var scheduleFormat: Int32 { (fp16Schedule ? ElementFormat.f16 : .f32).rawValue }
  var isa: Int32 { kernels.isa.rawValue }
  var threads: Int32 { Int32(kernels.threads) }

  func layerNorm(_ x: [T], _ g: [T], _ b: [T], rows: Int) throws(TrainingError) -> ([T], Layers.LayerNormCache<T>) {
    let d = config.d
    guard isFloat else { return Layers.layerNormForward(x, g, b, rows: rows, d: d, fp16: fp16Schedule) }
    var mean = [Float](repeating: 0, count: rows), rstd = mean
    let (xf, gf, bf) = (Self.asFloat(x), Self.asFloat(g), Self.asFloat(b))
    let y = try FloatKernels.filled(rows * d) { (y) throws(FP8Error) in
      try CKernels.layerNorm(x: xf, gamma: gf, beta: bf, rows: rows, d: d, eps: 1e-5, y: y, mean: &mean, rstd: &rstd,
                             round: scheduleFormat, isa: isa, threads: threads)
    }
    return (Self.fromFloat(y), Layers.LayerNormCache(mean: Self.fromFloat(mean), rstd: Self.fromFloat(rstd)))
  }

  /// dx of a LayerNorm with gain params[gamma] and bias params[gamma + 1]; adds their gradients
  /// into g[gamma], g[gamma + 1].
  func layerNormBackward(_ dy: [T], _ x: [T], _ c: Layers.LayerNormCache<T>, gamma: Int, rows: Int,
                         into g: inout [[T]]) throws(TrainingError) -> [T] {
    let d = config.d
    var gg = take(&g[gamma]), gb = take(&g[gamma + 1])
    defer { g[gamma] = gg; g[gamma + 1] = gb }
    guard isFloat else { return Layers.layerNormBackward(dy, x, c, params[gamma], rows: rows, d: d, gg: &gg, gb: &gb) }
    let (dyf, xf, mf, rf, gf) = (Self.asFloat(dy), Self.asFloat(x), Self.asFloat(c.mean), Self.asFloat(c.rstd), Self.asFloat(params[gamma]))
    var ggf = Self.asFloat(take(&gg)), gbf = Self.asFloat(take(&gb))
    defer { gg = Self.fromFloat(ggf); gb = Self.fromFloat(gbf) }
    return Self.fromFloat(try FloatKernels.filled(rows * d) { (dx) throws(FP8Error) in
      try CKernels.layerNormBackward(dy: dyf, x: xf, mean: mf, rstd: rf, gamma: gf, rows: rows, d: d, dx: dx, dgamma: &ggf,
                                     dbeta: &gbf, isa: isa, threads: threads)
    })
  }

  /// a + b with the schedule's rounding (the residual adds).
  func residual(_ a: [T], _ b: [T]) throws(TrainingError) -> [T] {
    guard isFloat else { return zip(a, b).map { fp16Schedule ? roundFP16($0 + $1) : $0 + $1 } }
    let (af, bf) = (Self.asFloat(a), Self.asFloat(b))
    return Self.fromFloat(try FloatKernels.filled(a.count) { (y) throws(FP8Error) in
      try CKernels.add(af, bf, y, count: af.count, round: scheduleFormat, isa: isa, threads: threads)
    })
  }

  /// a += b, no rounding (gradients of the residual stream).
  func accumulate(_ a: inout [T], _ b: [T]) throws(TrainingError) {
    guard isFloat else { for j in a.indices { a[j] += b[j] }; return }
    var af = Self.asFloat(take(&a))
    defer { a = Self.fromFloat(af) }
    let bf = Self.asFloat(b)
    try FloatKernels.run { () throws(FP8Error) in
      try af.withUnsafeMutableBufferPointer { (p) throws(FP8Error) in
        try CKernels.add(p.baseAddress, bf, p.baseAddress, count: p.count, round: ElementFormat.f32.rawValue, isa: isa, threads: threads)
      }
    }
  }

  func gelu(_ x: [T]) throws(TrainingError) -> [T] {
    guard isFloat else { return Layers.geluForward(x) }
    let xf = Self.asFloat(x)
    return Self.fromFloat(try FloatKernels.filled(x.count) { (y) throws(FP8Error) in
      try CKernels.gelu(xf, y, count: xf.count, isa: isa, threads: threads)
    })
  }

  func geluBackward(_ dy: [T], _ x: [T]) throws(TrainingError) -> [T] {
    guard isFloat else { return Layers.geluBackward(dy, x) }
    let (dyf, xf) = (Self.asFloat(dy), Self.asFloat(x))
    return Self.fromFloat(try FloatKernels.filled(x.count) { (dx) throws(FP8Error) in
      try CKernels.geluBackward(dy: dyf, x: xf, dx: dx, count: xf.count, isa: isa, threads: threads)
    })
  }

  /// gb[j] += Σ_r dy[r][j].
  func biasGradient(_ dy: [T], rows: Int, into gb: inout [T]) throws(TrainingError) {
    let cols = gb.count
    guard isFloat else { for r in 0..<rows { for j in 0..<cols { gb[j] += dy[r * cols + j] } }; return }
    var gbf = Self.asFloat(take(&gb))
    defer { gb = Self.fromFloat(gbf) }
    let dyf = Self.asFloat(dy)
    try FloatKernels.run { () throws(FP8Error) in
      try CKernels.biasBackward(dy: dyf, rows: rows, cols: cols, dbias: &gbf, isa: isa, threads: threads)
    }
  }

  /// The batch's weighted mean cross-entropy and its gradient times `scale`.
  func crossEntropy(_ logits: [T], _ b: Batch, scale: T) throws(TrainingError) -> (T, [T]) {
    let rows = b.batch * b.seq, vocab = config.vocab
    guard isFloat else {
      let (loss, dl) = Layers.crossEntropy(logits, targets: b.targets, weights: b.weights.map { T($0) }, rows: rows, vocab: vocab)
      return (loss, scale == 1 ? dl : dl.map { $0 * scale })
    }
    let lf = Self.asFloat(logits), targets = b.targets.map { Int32(truncatingIfNeeded: $0) }
    // The kernel takes finite scales; an infinite loss scale (overflow tests) multiplies after it.
    let s = Float(scale), inKernel = s.isFinite ? s : 1
    var loss: Float = 0
    var dl = try FloatKernels.filled(rows * vocab) { (dl) throws(FP8Error) in
      loss = try CKernels.crossEntropy(logits: lf, rows: rows, vocab: vocab, targets: targets, weights: b.weights,
                                       gradScale: inKernel, dlogits: dl, isa: isa, threads: threads)
    }
    if !s.isFinite { for i in dl.indices { dl[i] *= s } }
    return (T(loss), Self.fromFloat(dl))
  }

  func attentionForward(_ qkv: [T], batch: Int, seq: Int) throws(TrainingError) -> (out: [T], probs: [T]) {
    let c = config
    guard isFloat else {
      let (o, p) = Layers.attentionForward(qkv, batch: batch, seq: seq, heads: c.heads, d: c.d, fp16: fp16Schedule)
      return (o, p)
    }
    let r = try FloatKernels.attentionForward(Self.asFloat(qkv), batch: batch, seq: seq, heads: c.heads, d: c.d, round: scheduleFormat,
                                              kernels)
    return (Self.fromFloat(r.out), Self.fromFloat(r.probs))
  }

  func attentionBackward(_ dout: [T], _ qkv: [T], _ probs: [T], batch: Int, seq: Int) throws(TrainingError) -> [T] {
    let c = config
    guard isFloat else {
      return Layers.attentionBackward(dout, qkv, probs, batch: batch, seq: seq, heads: c.heads, d: c.d)
    }
    return Self.fromFloat(try FloatKernels.attentionBackward(Self.asFloat(dout), Self.asFloat(qkv), Self.asFloat(probs), batch: batch,
                                                             seq: seq, heads: c.heads, d: c.d, kernels))
  }
}

@inline(__always) func take<E>(_ a: inout [E]) -> [E] {
  var x: [E] = []
  swap(&x, &a)
  return x
}
