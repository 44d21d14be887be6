/// A rows × cols tensor cut into tiles of at most about `budget` elements, for streaming: a tile
/// is whole rows when `rowAlign` rows fit the budget, otherwise `rowAlign` rows by a multiple of
/// `colAlign` columns. Tiles start on multiples of the alignments, so that a tile holds whole
/// scale groups (128×128 blocks: 128 and 128; MX blocks of 32 along a row: 1 and 32).
struct TileGrid: Sequence {
  struct Tile {
    var rows: Range<Int>
    var cols: Range<Int>
    var count: Int { rows.count * cols.count }
  }

  let rows: Int
  let cols: Int
  let rowStep: Int
  let colStep: Int

  init(rows: Int, cols: Int, rowAlign: Int, colAlign: Int, budget: Int) {
    self.rows = rows
    self.cols = cols
    let budget = Swift.max(budget, rowAlign * colAlign)
    if cols == 0 || rowAlign * cols <= budget {
      colStep = Swift.max(cols, 1)
      rowStep = Swift.max(rowAlign, budget / Swift.max(cols, 1) / rowAlign * rowAlign)
    } else {
      rowStep = rowAlign
      colStep = Swift.max(colAlign, budget / rowAlign / colAlign * colAlign)
    }
  }

  /// True when some tile is narrower than the tensor (a row is split).
  var splitsRows: Bool { colStep < cols }
  var isSingleTile: Bool { rowStep >= rows && colStep >= cols }

  func makeIterator() -> AnyIterator<Tile> {
    var r = 0, c = 0
    return AnyIterator {
      guard r < rows, c < cols else { return nil }
      let t = Tile(rows: r..<Swift.min(rows, r + rowStep), cols: c..<Swift.min(cols, c + colStep))
      c += colStep
      if c >= cols {
        c = 0
        r += rowStep
      }
      return t
    }
  }
}

/// Elements of a matrix (`width` columns of `elementSize`-byte elements, row-major) that a tile
/// covers, as byte ranges of the tensor: one range for whole rows, one per row otherwise.
func byteRanges(rows: Range<Int>, cols: Range<Int>, width: Int, elementSize: Int) -> [Range<Int>] {
  if cols.count == width {
    return [rows.lowerBound * width * elementSize..<rows.upperBound * width * elementSize]
  }
  return rows.map { r in (r * width + cols.lowerBound) * elementSize..<(r * width + cols.upperBound) * elementSize }
}

extension SafetensorsFile {
  /// Reads the block `rows` × `cols` of tensor `t` viewed as a matrix of `width` columns of
  /// `elementSize`-byte elements, densely (row-major) into `buffer`.
  func readBlock(
    _ t: SafetensorsTensorInfo, width: Int, elementSize: Int, rows: Range<Int>, cols: Range<Int>,
    into buffer: UnsafeMutableRawBufferPointer
  ) throws(SafetensorsError) {
    var at = 0
    for r in byteRanges(rows: rows, cols: cols, width: width, elementSize: elementSize) {
      try read(t, range: r, into: UnsafeMutableRawBufferPointer(rebasing: buffer[at..<(at + r.count)]))
      at += r.count
    }
  }

  /// Copies tensor `t` to the writer unchanged, in pieces of at most `budget` bytes.
  func copy(_ t: SafetensorsTensorInfo, to writer: SafetensorsWriter, budget: Int) throws(SafetensorsError) {
    var buffer = [UInt8](repeating: 0, count: min(t.byteCount, max(budget, 1)))
    var at = 0
    while at < t.byteCount {
      let n = min(buffer.count, t.byteCount - at)
      try buffer.withMutableBytes { (b) throws(SafetensorsError) in
        let piece = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
        try read(t, range: at..<(at + n), into: piece)
        try writer.write(UnsafeRawBufferPointer(piece), tensor: t.name, at: at)
      }
      at += n
    }
  }
}

extension SafetensorsWriter {
  /// Writes a dense (row-major) block `rows` × `cols` into tensor `name` viewed as a matrix of
  /// `width` columns of `elementSize`-byte elements.
  func writeBlock(
    _ buffer: UnsafeRawBufferPointer, tensor name: String, width: Int, elementSize: Int, rows: Range<Int>,
    cols: Range<Int>
  ) throws(SafetensorsError) {
    var at = 0
    for r in byteRanges(rows: rows, cols: cols, width: width, elementSize: elementSize) {
      try write(UnsafeRawBufferPointer(rebasing: buffer[at..<(at + r.count)]), tensor: name, at: r.lowerBound)
      at += r.count
    }
  }
}
