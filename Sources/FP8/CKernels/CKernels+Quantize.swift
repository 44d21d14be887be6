import CFP8

extension CKernels {
  package static func scaleShape(granularity: Int32, rows: Int, cols: Int) throws(FP8Error) -> (rows: Int, cols: Int) {
    var r: Int64 = 0
    var c: Int64 = 0
    try check(cfp8_scale_shape(granularity, Int64(rows), Int64(cols), &r, &c), "scale shape of a \(rows)x\(cols) tensor")
    return (Int(r), Int(c))
  }

  package static func amax(
    _ x: UnsafeRawPointer?, srcFormat: Int32, rows: Int, cols: Int, ld: Int, granularity: Int32,
    _ out: UnsafeMutablePointer<Float>?, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(
      cfp8_amax(x, srcFormat, Int64(rows), Int64(cols), Int64(ld), granularity, out, isa, threads),
      "amax of a \(rows)x\(cols) tensor")
  }

  package static func quantize(
    _ x: UnsafeRawPointer?, srcFormat: Int32, rows: Int, cols: Int, format: Int32, granularity: Int32, mxRule: Int32,
    isa: Int32, threads: Int32, _ q: UnsafeMutablePointer<UInt8>?, scales: UnsafeMutablePointer<Float>?,
    mxScales: UnsafeMutablePointer<UInt8>?
  ) throws(FP8Error) {
    var options = cfp8_quantize_options(format: format, granularity: granularity, mx_rule: mxRule, isa: isa, threads: threads)
    try check(
      cfp8_quantize(x, srcFormat, Int64(rows), Int64(cols), &options, q, scales, mxScales),
      "quantising a \(rows)x\(cols) tensor")
  }

  package static func dequantize(
    _ q: UnsafePointer<UInt8>?, format: Int32, rows: Int, cols: Int, granularity: Int32,
    scales: UnsafePointer<Float>?, mxScales: UnsafePointer<UInt8>?, _ out: UnsafeMutableRawPointer?, outFormat: Int32,
    isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(
      cfp8_dequantize(q, format, Int64(rows), Int64(cols), granularity, scales, mxScales, out, outFormat, isa, threads),
      "dequantising a \(rows)x\(cols) tensor")
  }

  package static func f32ToBF16(_ x: Float) -> UInt16 { cfp8_f32_to_bf16_rne(x) }
}
