import FP8IO
import Foundation
import Testing

@Suite struct NpyTests {
  /// Bytes of `np.save` (NumPy 2.x) for np.arange(6, dtype='<f4').reshape(2, 3), copied from
  /// its output: the header text and the 64-byte alignment.
  @Test func encodeMatchesNumPy() throws {
    let a = try NpyArray(floats: [0, 1, 2, 3, 4, 5], shape: [2, 3])
    let bytes = Npy.encode(a)
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    let expected: [UInt8] =
      [0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0] + Array(header.utf8)
      + [UInt8](repeating: 0x20, count: 118 - header.utf8.count - 1) + [0x0A]
    #expect(Array(bytes.prefix(128)) == expected)
    #expect(bytes.count == 128 + 24)
  }

  @Test func fortranOrderIsTransposedToCOrder() throws {
    // the 2x3 matrix [[0,1,2],[3,4,5]] stored column by column
    let f = try NpyArray(dtype: .u8, shape: [2, 3], fortranOrder: true, data: [0, 3, 1, 4, 2, 5])
    #expect(f.cOrderData() == [0, 1, 2, 3, 4, 5])
    #expect(f.floatsCOrder() == [0, 1, 2, 3, 4, 5])
    let back = try Npy.parse(Npy.encode(f))
    #expect(back == f)
  }

  @Test(arguments: NpyDType.allCases)
  func roundTripEveryDType(_ d: NpyDType) throws {
    for shape in [[], [0], [5], [2, 3], [2, 1, 3, 2]] {
      let n = shape.reduce(1, *)
      let a = try NpyArray(dtype: d, shape: shape, data: (0..<(n * d.itemSize)).map { UInt8(truncatingIfNeeded: $0 &* 37) })
      #expect(try Npy.parse(Npy.encode(a)) == a)
    }
  }

  @Test func readsVersion2And3Headers() throws {
    for version: UInt8 in [2, 3] {
      let header = Array("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }".utf8) + [0x0A]
      var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
      b += withUnsafeBytes(of: UInt32(header.count).littleEndian) { Array($0) }
      b += header + [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
      let a = try Npy.parse(b)
      #expect(a.dtype == .i32 && a.shape == [2] && a.floatsCOrder() == [1, -1])
    }
  }

  @Test func fileRoundTrip() throws {
    let path = NSTemporaryDirectory() + "/fp8io-\(getpid()).npy"
    defer { unlink(path) }
    let a = try NpyArray(floats: [1.5, -2, .infinity], shape: [3])
    try Npy.write(a, path: path)
    #expect(try Npy.read(path: path) == a)
  }
}
