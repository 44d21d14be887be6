import CFP8

extension CKernels {
  package static var int8GEMMMaxK: Int { Int(CFP8_INT8_GEMM_MAX_K) }

  /// C (m×n) = A (m×k) · Bᵀ with B stored n×k, exact int32 (cfp8_int8_gemm).
  package static func int8GEMM(
    m: Int, n: Int, k: Int, _ a: UnsafePointer<Int8>?, lda: Int, _ b: UnsafePointer<Int8>?, ldb: Int,
    _ c: UnsafeMutablePointer<Int32>?, ldc: Int, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(
      cfp8_int8_gemm(Int64(m), Int64(n), Int64(k), a, Int64(lda), b, Int64(ldb), c, Int64(ldc), isa, threads),
      "INT8 GEMM \(m)x\(n)x\(k)")
  }

  package static func int8Requantize(
    m: Int, n: Int, _ c: UnsafePointer<Int32>?, ldc: Int, aScale: Float, wScales: UnsafePointer<Float>?,
    bias: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>?, ldo: Int
  ) throws(FP8Error) {
    try check(
      cfp8_int8_requantize(Int64(m), Int64(n), c, Int64(ldc), aScale, wScales, bias, out, Int64(ldo)),
      "INT8 requantisation of a \(m)x\(n) result")
  }

  package static func int8Quantize(
    _ x: UnsafePointer<Float>?, rows: Int, cols: Int, ldx: Int, scales: UnsafePointer<Float>?, perRow: Bool,
    _ q: UnsafeMutablePointer<Int8>?, ldq: Int
  ) throws(FP8Error) {
    try check(
      cfp8_int8_quantize(x, Int64(rows), Int64(cols), Int64(ldx), scales, perRow ? 1 : 0, q, Int64(ldq)),
      "INT8 quantisation of a \(rows)x\(cols) matrix")
  }

  package static func absmax(
    _ x: UnsafePointer<Float>?, rows: Int, cols: Int, ldx: Int, perRow: Bool, _ out: UnsafeMutablePointer<Float>?
  ) throws(FP8Error) {
    try check(cfp8_absmax_f32(x, Int64(rows), Int64(cols), Int64(ldx), perRow ? 1 : 0, out), "amax of a \(rows)x\(cols) matrix")
  }

  package static func fourBitGroup(_ format: Int32) -> Int { Int(cfp8_fourbit_group(format)) }
  package static func e2m1Encode(_ x: Float) -> UInt8 { cfp8_e2m1_encode(x) }
  package static func e2m1Decode(_ code: UInt8) -> Float { cfp8_e2m1_decode(code) }

  package static func fourBitQuantize(
    _ x: UnsafePointer<Float>?, rows: Int, cols: Int, format: Int32, scaleFormat: Int32,
    _ packed: UnsafeMutablePointer<UInt8>?, scales: UnsafeMutableRawPointer?, tensorScale: UnsafeMutablePointer<Float>?
  ) throws(FP8Error) {
    try check(
      cfp8_fourbit_quantize(x, Int64(rows), Int64(cols), format, scaleFormat, packed, scales, tensorScale),
      "4-bit quantisation of a \(rows)x\(cols) matrix")
  }

  package static func fourBitDequantize(
    _ packed: UnsafePointer<UInt8>?, rows: Int, cols: Int, format: Int32, scaleFormat: Int32,
    scales: UnsafeRawPointer?, tensorScale: Float, _ out: UnsafeMutablePointer<Float>?
  ) throws(FP8Error) {
    try check(
      cfp8_fourbit_dequantize(packed, Int64(rows), Int64(cols), format, scaleFormat, scales, tensorScale, out),
      "4-bit dequantisation of a \(rows)x\(cols) matrix")
  }
}
