import Foundation

/// What a cast did to a tensor, for the monitors.
public struct QuantStats: Sendable, Codable, Equatable {
  /// max |x| of the FP32 input.
  public var amax: Float
  /// The scale (per-tensor recipes) or the smallest group scale.
  public var scale: Float
  /// 10·log10(Σx² / Σ(x − dequant(q))²); +Inf when exact.
  public var sqnrDB: Double
  /// Fraction of the elements whose scaled magnitude exceeded the format's largest finite value.
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
    tensorScale: Float? = nil, powerOfTwo: Bool = false
  ) throws(FP8Error) -> (QuantizedPayload, [Float], QuantStats) {
    guard outer >= 0, k >= 0, outer * k == x.count else { throw .badShape("quantize: \(x.count) values for \(outer)×\(k)") }
    guard format.isFP8, format != .e8m0 else { throw .badFormat("quantize to \(format)") }
    let fmax = format.maxFinite
    // Group amaxes.
    let (go, gk): (Int, Int)
    switch granularity {
    case .tensor: (go, gk) = (Swift.max(outer, 1), Swift.max(k, 1))
    case .row: (go, gk) = (1, Swift.max(k, 1))
    default: let g = granularity.groupShape!; (go, gk) = (g.outer, g.k)
    }
    let nOuter = (outer + go - 1) / go, nK = (k + gk - 1) / gk
    var gAmax = [Float](repeating: 0, count: Swift.max(nOuter * nK, 1))
    var amax: Float = 0
    x.withUnsafeBufferPointer { X in
      for o in 0..<outer {
        let gRow = (o / go) * nK
        for p in 0..<k {
          let a = abs(X[o * k + p])
          let gi = gRow + p / gk
          if a.isNaN || gAmax[gi].isNaN { gAmax[gi] = .nan } else if a > gAmax[gi] { gAmax[gi] = a }
          if a.isNaN || amax.isNaN { amax = .nan } else if a > amax { amax = a }
        }
      }
    }
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
        for o in 0..<outer {
          let gRow = (o / go) * nK
          for p in 0..<k {
            let v = X[o * k + p] * scales[gRow + p / gk]
            if abs(v) > fmax && v.isFinite { saturated += 1 }
            S[o * k + p] = v
          }
        }
      }
    }
    let bits = try FP8Conversion.encode(scaled, to: format)
    var deq = try FP8Conversion.decode(bits, from: format)
    let inv = scales.map { 1 / $0 }
    var flushed = 0, nonzero = 0
    var sig = 0.0, err = 0.0
    x.withUnsafeBufferPointer { X in
      deq.withUnsafeMutableBufferPointer { D in
        for o in 0..<outer {
          let gRow = (o / go) * nK
          for p in 0..<k {
            let i = o * k + p
            let q = D[i]
            let v = X[i]
            if v != 0 { nonzero += 1; if q == 0 { flushed += 1 } }
            let dq = q * inv[gRow + p / gk]
            D[i] = dq
            let dv = Double(v)
            sig += dv * dv
            let e = dv - Double(dq)
            err += e * e
          }
        }
      }
    }
    let sqnr = err == 0 ? Double.infinity : 10 * Foundation.log10(sig / err)
    let n = Swift.max(x.count, 1)
    let stats = QuantStats(
      amax: amax, scale: scales.min() ?? 1, sqnrDB: sqnr, saturated: Double(saturated) / Double(n),
      flushed: nonzero == 0 ? 0 : Double(flushed) / Double(nonzero))
    let payload = QuantizedPayload(bits: bits, format: format, scaleInverse: inv, granularity: granularity, outer: outer, k: k)
    return (payload, deq, stats)
  }
}
