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
  /// D (m × n, row stride ldd) = op(A) · op(B) (+ D when `accumulate`), one FMA chain per element
  /// in k order from +0 (cfp8_gemm's numerics).
  static func gemm(m: Int, n: Int, k: Int, _ a: FloatMatrix, _ b: FloatMatrix, into d: UnsafeMutablePointer<Float>, ldd: Int,
                   accumulate: Bool = false, bias: UnsafePointer<Float>? = nil, _ ctx: KernelContext) throws(TrainingError) {
    let f32 = ElementFormat.f32.rawValue
    do {
      try CKernels.gemm(
        m: m, n: n, k: k,
        a: GEMMOperandDescriptor(data: UnsafeRawPointer(a.base), format: f32, transposed: a.transposed, leadingDimension: a.ld),
        b: GEMMOperandDescriptor(data: UnsafeRawPointer(b.base), format: f32, transposed: b.transposed, leadingDimension: b.ld),
        mode: .none, aScales: nil, bScales: nil, aMX: nil, bMX: nil, alpha: 1, beta: accumulate ? 1 : 0,
        c: accumulate ? UnsafePointer(d) : nil, ldc: ldd, bias: bias, d: UnsafeMutableRawPointer(d), dFormat: f32, ldd: ldd,
        dScale: 1, amax: nil, isa: ctx.isa.rawValue, threads: Int32(ctx.threads))
    } catch { throw .fp8(error) }
  }
}

extension FloatKernels {
  /// Causal multi-head attention of ``Layers/attentionForward(_:batch:seq:heads:d:fp16:)`` with its
  /// products QKᵀ and PV on the C GEMM, one (sequence, head) pair at a time.
  static func attentionForward(_ qkv: [Float], batch: Int, seq: Int, heads: Int, d: Int, fp16: Bool,
                               _ ctx: KernelContext) throws(TrainingError) -> (out: [Float], probs: [Float]) {
    let dh = d / heads, w = 3 * d, tt = seq * seq
    let scale = 1 / Float(dh).squareRoot()
    var out = [Float](repeating: 0, count: batch * seq * d)
    var probs = [Float](repeating: 0, count: batch * heads * tt)
    try qkv.withUnsafeBufferPointer { (q) throws(TrainingError) in
      try probs.withUnsafeMutableBufferPointer { (p) throws(TrainingError) in
        try out.withUnsafeMutableBufferPointer { (o) throws(TrainingError) in
          let q0 = q.baseAddress!, p0 = p.baseAddress!, o0 = o.baseAddress!
          for b in 0..<batch {
            for h in 0..<heads {
              let rows = q0 + b * seq * w + h * dh, pb = p0 + (b * heads + h) * tt
              try gemm(m: seq, n: seq, k: dh, FloatMatrix(base: rows, ld: w), FloatMatrix(base: rows + d, transposed: true, ld: w),
                       into: pb, ldd: seq, ctx)
              causalSoftmax(pb, seq: seq, scale: scale, fp16: fp16)
              try gemm(m: seq, n: dh, k: seq, FloatMatrix(base: UnsafePointer(pb), ld: seq), FloatMatrix(base: rows + 2 * d, ld: w),
                       into: o0 + b * seq * d + h * dh, ldd: d, ctx)
            }
          }
        }
      }
    }
    return (out, probs)
  }

  /// The gradient of ``attentionForward(_:batch:seq:heads:d:fp16:_:)`` with respect to qkv.
  static func attentionBackward(_ dout: [Float], _ qkv: [Float], _ probs: [Float], batch: Int, seq: Int, heads: Int, d: Int,
                                _ ctx: KernelContext) throws(TrainingError) -> [Float] {
    let dh = d / heads, w = 3 * d, tt = seq * seq
    let scale = 1 / Float(dh).squareRoot()
    var dqkv = [Float](repeating: 0, count: qkv.count)
    var ds = [Float](repeating: 0, count: tt)
    try qkv.withUnsafeBufferPointer { (q) throws(TrainingError) in
      try probs.withUnsafeBufferPointer { (p) throws(TrainingError) in
        try dout.withUnsafeBufferPointer { (g) throws(TrainingError) in
          try dqkv.withUnsafeMutableBufferPointer { (dq) throws(TrainingError) in
            try ds.withUnsafeMutableBufferPointer { (s) throws(TrainingError) in
              let q0 = q.baseAddress!, p0 = p.baseAddress!, g0 = g.baseAddress!, d0 = dq.baseAddress!, s0 = s.baseAddress!
              for b in 0..<batch {
                for h in 0..<heads {
                  let rows = q0 + b * seq * w + h * dh, drows = d0 + b * seq * w + h * dh
                  let pb = p0 + (b * heads + h) * tt, gb = g0 + b * seq * d + h * dh
                  // dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale on the causal triangle.
                  try gemm(m: seq, n: seq, k: dh, FloatMatrix(base: gb, ld: d), FloatMatrix(base: rows + 2 * d, transposed: true, ld: w),
                           into: s0, ldd: seq, ctx)
                  causalSoftmaxBackward(pb, s0, seq: seq, scale: scale)
                  // dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q.
                  try gemm(m: seq, n: dh, k: seq, FloatMatrix(base: pb, transposed: true, ld: seq), FloatMatrix(base: gb, ld: d),
                           into: drows + 2 * d, ldd: w, ctx)
                  try gemm(m: seq, n: dh, k: seq, FloatMatrix(base: UnsafePointer(s0), ld: seq), FloatMatrix(base: rows + d, ld: w),
                           into: drows, ldd: w, ctx)
                  try gemm(m: seq, n: dh, k: seq, FloatMatrix(base: UnsafePointer(s0), transposed: true, ld: seq),
                           FloatMatrix(base: rows, ld: w), into: drows + d, ldd: w, ctx)
                }
              }
            }
          }
        }
      }
    }
    return dqkv
  }

  /// Row i of the seq × seq scores keeps columns j ≤ i: p = exp(s·scale − max) / Σ, +0 above the
  /// diagonal.
  static func causalSoftmax(_ s: UnsafeMutablePointer<Float>, seq: Int, scale: Float, fp16: Bool) {
    for i in 0..<seq {
      let r = s + i * seq
      var mx = -Float.infinity
      for j in 0...i { r[j] *= scale; if r[j] > mx { mx = r[j] } }
      var z: Float = 0
      for j in 0...i { r[j] = Float.exp(r[j] - mx); z += r[j] }
      for j in 0...i { let p = r[j] / z; r[j] = fp16 ? roundFP16(p) : p }
      for j in (i + 1)..<seq { r[j] = 0 }
    }
  }

  /// ds (holding dP on entry) = P ⊙ (dP − Σⱼ Pⱼ dPⱼ) · scale on the causal triangle, +0 above it.
  static func causalSoftmaxBackward(_ p: UnsafePointer<Float>, _ ds: UnsafeMutablePointer<Float>, seq: Int, scale: Float) {
    for i in 0..<seq {
      let pr = p + i * seq, r = ds + i * seq
      var dot: Float = 0
      for j in 0...i { dot += r[j] * pr[j] }
      for j in 0...i { r[j] = pr[j] * (r[j] - dot) * scale }
      for j in (i + 1)..<seq { r[j] = 0 }
    }
  }
}

// The transformer's layers on the C kernels when T is Float; the Swift reference (``Layers``)
// otherwise (the FP64 gradient checks).
extension Transformer {
  @inline(__always) static func asFloat(_ x: [T]) -> [Float] { unsafeBitCast(x, to: [Float].self) }
  @inline(__always) static func fromFloat(_ x: [Float]) -> [T] { unsafeBitCast(x, to: [T].self) }

  func attentionForward(_ qkv: [T], batch: Int, seq: Int) throws(TrainingError) -> (out: [T], probs: [T]) {
    let c = config
    guard T.self == Float.self else {
      let (o, p) = Layers.attentionForward(qkv, batch: batch, seq: seq, heads: c.heads, d: c.d, fp16: fp16Schedule)
      return (o, p)
    }
    let r = try FloatKernels.attentionForward(Self.asFloat(qkv), batch: batch, seq: seq, heads: c.heads, d: c.d, fp16: fp16Schedule, kernels)
    return (Self.fromFloat(r.out), Self.fromFloat(r.probs))
  }

  func attentionBackward(_ dout: [T], _ qkv: [T], _ probs: [T], batch: Int, seq: Int) throws(TrainingError) -> [T] {
    let c = config
    guard T.self == Float.self else {
      return Layers.attentionBackward(dout, qkv, probs, batch: batch, seq: seq, heads: c.heads, d: c.d)
    }
    return Self.fromFloat(try FloatKernels.attentionBackward(Self.asFloat(dout), Self.asFloat(qkv), Self.asFloat(probs), batch: batch,
                                                             seq: seq, heads: c.heads, d: c.d, kernels))
  }
}
