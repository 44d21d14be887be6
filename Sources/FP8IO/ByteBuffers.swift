extension Array {
  /// `withUnsafeBytes` that keeps the body's error type (the standard one rethrows `any Error`).
  func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try withUnsafeBufferPointer { (p) throws(E) in try body(UnsafeRawBufferPointer(p)) }
  }

  /// `withUnsafeMutableBytes` that keeps the body's error type.
  mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try withUnsafeMutableBufferPointer { (p) throws(E) in try body(UnsafeMutableRawBufferPointer(p)) }
  }
}
