// Wrappers over cfp8_tensorcore.h: the block-FMA model of NVIDIA tensor cores.
import CFP8

/// The C model parameters, as plain values (the TensorCores module builds them from presets).
package struct CTensorCoreModel: Sendable {
  let c: cfp8_tc_model

  /// Where c enters a block (cfp8_tensorcore.h's CFP8_TC_C_*).
  package enum CMode: Sendable, Equatable {
    case fused, addedAfter, addedAfterHalves
  }

  package static let noMinExponent: Int32 = -100_000

  package init(blockSize: Int32, fractionBits: Int32, minExponent: Int32, fp16Accumulator: Bool, cMode: CMode) {
    let mode: Int32
    switch cMode {
    case .fused: mode = Int32(CFP8_TC_C_FUSED)
    case .addedAfter: mode = Int32(CFP8_TC_C_ADDED)
    case .addedAfterHalves: mode = Int32(CFP8_TC_C_ADDED_HALVES)
    }
    c = cfp8_tc_model(block_size: blockSize, fraction_bits: fractionBits, min_exponent: minExponent,
                      accumulator: fp16Accumulator ? Int32(CFP8_TC_ACC_F16) : Int32(CFP8_TC_ACC_F32), c_mode: mode)
  }
}

extension CKernels {
  package static let tcAccumulationFast: Int32 = Int32(CFP8_TC_ACCUM_FAST)
  package static let tcAccumulationPromoted: Int32 = Int32(CFP8_TC_ACCUM_PROMOTED)
  package static let tcAccumulationIdeal: Int32 = Int32(CFP8_TC_ACCUM_IDEAL)
  package static let tcAccumulationExact: Int32 = Int32(CFP8_TC_ACCUM_EXACT)

  /// A chain of blocks (fast accumulation) over `a.count` products, starting from `c`.
  package static func tensorCoreDot(_ a: [Float], _ b: [Float], c: Float, format: Int32,
                                    model: CTensorCoreModel) throws(FP8Error) -> Float {
    guard a.count == b.count, a.count <= Int(Int32.max) else { throw .badShape("a has \(a.count) values, b \(b.count)") }
    var m = model.c
    var d: Float = 0
    let status = a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        cfp8_tc_dot(pa.baseAddress ?? UnsafePointer(bitPattern: 16)!, pb.baseAddress ?? UnsafePointer(bitPattern: 16)!,
                    Int32(a.count), c, format, &m, &d)
      }
    }
    try check(status, "tensor-core dot product")
    return d
  }

  /// D = scaling(op(A)·op(B)) accumulated under the model, then the epilogue, into FP32 `d`
  /// (m×n, row-major). Scale arrays follow cfp8_gemm.h; `accInit` is the starting accumulator.
  package static func tensorCoreGEMM(
    m: Int, n: Int, k: Int, a: GEMMOperandDescriptor, b: GEMMOperandDescriptor, accInit: UnsafePointer<Float>?,
    scalingMode: Int32, aScales: UnsafePointer<Float>?, bScales: UnsafePointer<Float>?,
    aMX: UnsafePointer<UInt8>?, bMX: UnsafePointer<UInt8>?,
    model: CTensorCoreModel?, accumulation: Int32, promotionInterval: Int32,
    alpha: Float, beta: Float, c: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
    d: UnsafeMutablePointer<Float>, amax: UnsafeMutablePointer<Float>?, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    var ca = a.cValue
    var cb = b.cValue
    var sc = cfp8_scaling(mode: scalingMode, a_scales: aScales, b_scales: bScales, a_mx: aMX, b_mx: bMX)
    var cm = (model ?? CTensorCoreModel(blockSize: 1, fractionBits: 24, minExponent: -126, fp16Accumulator: false, cMode: .fused)).c
    var ep = cfp8_epilogue(alpha: alpha, beta: beta, c: c, ldc: Int64(n), bias: bias, d: UnsafeMutableRawPointer(d),
                           d_format: Int32(CFP8_FORMAT_F32), ldd: Int64(n), d_scale: 1, amax_out: amax)
    let status = cfp8_tc_gemm(Int64(m), Int64(n), Int64(k), &ca, &cb, accInit, &sc, &cm, accumulation,
                              promotionInterval, &ep, isa, threads)
    try check(status, "tensor-core matrix product \(m)x\(k) · \(k)x\(n)")
  }
}
