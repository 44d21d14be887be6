import Foundation

/// What a cast did to a tensor, for the monitors.
public struct QuantStats: Sendable, Codable, Equatable {
  /// max |x| of the FP32 input.
  public var amax: Float
  /// The scale (per-tensor recipes) or the smallest group scale.
  public var scale: Float
  /// 10·log10(Σx² / Σ(x − dequant(q))²) (sums per scale group in FP32, then FP64); +Inf when exact.
  public var sqnrDB: Double
  /// Fraction of the elements whose scaled magnitude lay beyond the format's range (they round past
  /// the largest finite value and are clamped to it by the satfinite cast).
  public var saturated: Double
  /// Fraction of the non-zero elements that became zero.
  public var flushed: Double
}

public enum Quantizer {
  /// Quantises a k-major operand (`outer × k` row-major) to `format` at `granularity`, with round
  /// to nearest even and satfinite overflow (Transformer Engine's cast). `tensorScale`, when given,
  /// is used for `.tensor` granularity (delayed scaling); otherwise scales are computed from the
  /// current amaxes (``Scaling/currentScale(amax:fp8Max:powerOfTwo:)``, or
  /// ``Scaling/mxScale(amax:format:)`` for `.mx32`). Returns the payload, the dequantised values
  /// (k-major) and the statistics.
  public static func quantize(
    _ x: [Float], outer: Int, k: Int, format: ElementFormat, granularity: ScaleGranularity,
    tensorScale: Float? = nil, powerOfTwo: Bool = false, isa: ISA = .auto
  ) throws(FP8Error) -> (QuantizedPayload, [Float], QuantStats) {
    guard outer >= 0, k >= 0, outer * k == x.count else { throw .badShape("quantize: \(x.count) values for \(outer)×\(k)") }
    guard format.isFP8, format != .e8m0 else { throw .badFormat("quantize to \(format)") }
    let fmax = format.maxFinite
    // A scaled value counts as saturated when it would round past the largest finite value
    // (beyond max + half a step of the top binade: 464 for E4M3, 61440 for E5M2).
    let mantissaBits = format == .e5m2 || format == .e5m2fnuz ? 2 : 3
    let satThreshold = fmax + Float(sign: .plus, exponent: fmax.exponent - mantissaBits - 1, significand: 1)
    // Group amaxes.
    let (go, gk): (Int, Int)
    switch granularity {
    case .tensor: (go, gk) = (Swift.max(outer, 1), Swift.max(k, 1))
    case .row: (go, gk) = (1, Swift.max(k, 1))
    default: let g = granularity.groupShape!; (go, gk) = (g.outer, g.k)
    }
    let nOuter = (outer + go - 1) / go, nK = (k + gk - 1) / gk
    // Group index of element (o, p) is (o / go) * nK + p / gk; the loops walk k in group-sized runs
    // so that no division happens per element.
    @inline(__always) func forEachRun(_ body: (_ o: Int, _ p0: Int, _ p1: Int, _ group: Int) -> Void) {
      for o in 0..<outer {
        let gRow = (o / go) * nK
        var p0 = 0, g = gRow
        while p0 < k { let p1 = Swift.min(k, p0 + gk); body(o, p0, p1, g); p0 = p1; g += 1 }
      }
    }
    var gAmax = [Float](repeating: 0, count: Swift.max(nOuter * nK, 1))
    var amax: Float = 0
    var sawNaN = false
    x.withUnsafeBufferPointer { X in
      forEachRun { o, p0, p1, g in
        var m = gAmax[g]
        for p in p0..<p1 {
          let a = abs(X[o * k + p])
          if a.isNaN { sawNaN = true; m = .nan; break }
          m = Swift.max(m, a)
        }
        gAmax[g] = m.isNaN || gAmax[g].isNaN ? .nan : m
      }
    }
    for a in gAmax { if a.isNaN { amax = .nan; break }; amax = Swift.max(amax, a) }
    if sawNaN { amax = .nan }
    var scales = gAmax.map { a -> Float in
      granularity == .mx32 ? Scaling.mxScale(amax: a, format: format)
        : Scaling.currentScale(amax: a, fp8Max: fmax, powerOfTwo: powerOfTwo)
    }
    if granularity == .tensor, let s = tensorScale { scales = [s] }
    // Scale, cast, decode.
    var scaled = [Float](repeating: 0, count: x.count)
    var saturated = 0
    x.withUnsafeBufferPointer { X in
      scaled.withUnsafeMutableBufferPointer { S in
        forEachRun { o, p0, p1, g in
          let s = scales[g]
          for p in p0..<p1 {
            let v = X[o * k + p] * s
            if abs(v) > satThreshold && v.isFinite { saturated += 1 }
            S[o * k + p] = v
          }
        }
      }
    }
    let bits = try FP8Conversion.encode(scaled, to: format, isa: isa)
    var deq = try FP8Conversion.decode(bits, from: format, isa: isa)
    let inv = scales.map { 1 / $0 }
    var flushed = 0, nonzero = 0
    var sig = 0.0, err = 0.0
    x.withUnsafeBufferPointer { X in
      deq.withUnsafeMutableBufferPointer { D in
        forEachRun { o, p0, p1, g in
          let si = inv[g]
          var sg: Float = 0, er: Float = 0
          for p in p0..<p1 {
            let i = o * k + p
            let q = D[i], v = X[i]
            if v != 0 { nonzero += 1; if q == 0 { flushed += 1 } }
            let dq = q * si
            D[i] = dq
            sg += v * v
            let e = v - dq
            er += e * e
          }
          sig += Double(sg); err += Double(er)
        }
      }
    }
    let sqnr = err == 0 ? Double.infinity : 10 * Foundation.log10(sig / err)
    let n = Swift.max(x.count, 1)
    let stats = QuantStats(
      amax: amax, scale: scales.min() ?? 1, sqnrDB: sqnr, saturated: Double(saturated) / Double(n),
      flushed: nonzero == 0 ? 0 : Double(flushed) / Double(nonzero))
    var payload = QuantizedPayload(bits: bits, format: format, scaleInverse: inv, granularity: granularity, outer: outer, k: k)
    payload.dequantizedCache = deq
    return (payload, deq, stats)
  }
}
