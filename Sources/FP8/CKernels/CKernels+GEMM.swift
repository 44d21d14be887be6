import CFP8

/// One operand of the matrix-product contract (`cfp8_operand` in cfp8_gemm.h), shared by the GEMM
/// engine and the tensor-core model: op(X)[r, c] is data[r·ld + c], or data[c·ld + r] when
/// transposed; `data` holds FP8 bytes, FP16/BF16 bit patterns or FP32 values.
package struct GEMMOperandDescriptor {
  let cValue: cfp8_operand

  package init(data: UnsafeRawPointer?, format: Int32, transposed: Bool, leadingDimension: Int) {
    cValue = cfp8_operand(data: data, format: format, transposed: transposed ? 1 : 0, ld: Int64(leadingDimension))
  }
}

/// Scaling mode codes of `cfp8_scaling`.
package enum GEMMScalingMode: Int32 {
  case none = 0, tensor = 1, rowwise = 2, block = 3, mx = 4
}

/// The batch of `cfp8_gemm_batched` (`cfp8_gemm_batch`): outer × inner products, product (o, i)
/// moved by o·outer + i·inner elements in each of A, B, C and D.
package struct GEMMBatch: Sendable {
  let c: cfp8_gemm_batch

  package init(outer: Int, inner: Int, aStrides: (outer: Int, inner: Int), bStrides: (outer: Int, inner: Int),
               cStrides: (outer: Int, inner: Int) = (0, 0), dStrides: (outer: Int, inner: Int)) {
    c = cfp8_gemm_batch(outer: Int64(outer), inner: Int64(inner), a_outer: Int64(aStrides.outer),
                        a_inner: Int64(aStrides.inner), b_outer: Int64(bStrides.outer), b_inner: Int64(bStrides.inner),
                        c_outer: Int64(cStrides.outer), c_inner: Int64(cStrides.inner), d_outer: Int64(dStrides.outer),
                        d_inner: Int64(dStrides.inner))
  }
}

extension CKernels {
  /// `cfp8_gemm`: D = alpha·(scaled op(A)·op(B)) + beta·C + bias, see cfp8_gemm.h. With `batch`,
  /// `cfp8_gemm_batched`: that product for every (outer, inner) pair of the batch (scaling none or
  /// tensor, the same scales, alpha, beta, bias and d_scale for every product; amax over all of them).
  package static func gemm(
    batch: GEMMBatch? = nil, m: Int, n: Int, k: Int, a: GEMMOperandDescriptor, b: GEMMOperandDescriptor,
    mode: GEMMScalingMode, aScales: UnsafePointer<Float>?, bScales: UnsafePointer<Float>?,
    aMX: UnsafePointer<UInt8>? = nil, bMX: UnsafePointer<UInt8>? = nil,
    alpha: Float, beta: Float, c: UnsafePointer<Float>?, ldc: Int, bias: UnsafePointer<Float>?,
    d: UnsafeMutableRawPointer?, dFormat: Int32, ldd: Int, dScale: Float, amax: UnsafeMutablePointer<Float>?,
    isa: Int32, threads: Int32
  ) throws(FP8Error) {
    var ca = a.cValue
    var cb = b.cValue
    var s = cfp8_scaling(mode: mode.rawValue, a_scales: aScales, b_scales: bScales, a_mx: aMX, b_mx: bMX)
    var e = cfp8_epilogue(
      alpha: alpha, beta: beta, c: c, ldc: Int64(ldc), bias: bias, d: d, d_format: dFormat, ldd: Int64(ldd),
      d_scale: dScale, amax_out: amax)
    let product = "\(m)×\(k) · \(k)×\(n)"
    guard var bt = batch?.c else {
      return try check(cfp8_gemm(Int64(m), Int64(n), Int64(k), &ca, &cb, &s, &e, isa, threads), "GEMM " + product)
    }
    try check(cfp8_gemm_batched(&bt, Int64(m), Int64(n), Int64(k), &ca, &cb, &s, &e, isa, threads),
              "batched GEMM \(bt.outer)×\(bt.inner) × (\(product))")
  }

  /// The micro-kernel register tile (MR, NR) of an ISA.
  package static func gemmTile(isa: Int32) throws(FP8Error) -> (mr: Int, nr: Int) {
    var mr: Int32 = 0, nr: Int32 = 0
    try check(cfp8_gemm_tile(isa, &mr, &nr), "GEMM tile of ISA \(isa)")
    return (Int(mr), Int(nr))
  }
}
