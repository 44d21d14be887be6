/// Row-major transpose of a rows × cols matrix, in 16 × 16 tiles so that the strided side of each
/// tile stays within a few cache lines.
package func transpose<T>(_ x: [T], rows: Int, cols: Int) -> [T] {
  if rows <= 1 || cols <= 1 { return x }
  let tile = 16
  return [T](unsafeUninitializedCapacity: x.count) { out, count in
    x.withUnsafeBufferPointer { src in
      let s = src.baseAddress!, o = out.baseAddress!
      for r0 in stride(from: 0, to: rows, by: tile) {
        let r1 = Swift.min(rows, r0 + tile)
        for c0 in stride(from: 0, to: cols, by: tile) {
          let c1 = Swift.min(cols, c0 + tile)
          for r in r0..<r1 {
            // indices below x.count: no overflow to check
            for c in c0..<c1 { (o + (c &* rows &+ r)).initialize(to: s[r &* cols &+ c]) }
          }
        }
      }
    }
    count = x.count
  }
}
