import Foundation

/// The scalar type the layers are generic over: `Float` in training, `Double` in the gradient
/// checks of the tests (finite differences in FP64).
public protocol TrainScalar: BinaryFloatingPoint, Sendable {
  static func exp(_ x: Self) -> Self
  static func log(_ x: Self) -> Self
  static func tanh(_ x: Self) -> Self
}

extension Float: TrainScalar {
  @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
  @inline(__always) public static func log(_ x: Float) -> Float { Foundation.logf(x) }
  @inline(__always) public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
}

extension Double: TrainScalar {
  @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
  @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
  @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
}

/// Rounds to the nearest FP16 value (ties to even; overflow to ±Inf as IEEE does), the precision
/// schedule's emulation of FP16 LayerNorm, softmax and residual adds.
@inline(__always) func roundFP16<T: TrainScalar>(_ x: T) -> T {
  T(Float(Float16(Float(x))))
}

/// Rounds an FP32 value to the nearest BF16 value (ties to even; NaN kept quiet).
@inline(__always) func roundBF16(_ x: Float) -> Float {
  if x.isNaN { return x }
  let b = x.bitPattern
  let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
  return Float(bitPattern: rounded & 0xFFFF_0000)
}
