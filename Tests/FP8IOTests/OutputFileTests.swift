import FP8
import FP8IO
import Foundation
import Testing

/// The one output path: refusals before anything is created, symbolic links followed, permission
/// bits kept, failures leaving the old file and no temporary file. (A full disk and signals need
/// a small file system and a separate process: scripts/hostile_cli.py.)
@Suite struct OutputFileTests {
  static func folder(_ name: String) throws -> String {
    let dir = NSTemporaryDirectory() + "/fp8io-out-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  static func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

  /// Names in `dir` other than `keep`: temporary files left behind.
  static func leftovers(_ dir: String, keep: Set<String>) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).filter { !keep.contains($0) }
  }

  @Test func refusesWhatItMustNotReplace() throws {
    let dir = try Self.folder("refuse")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let input = dir + "/in.bin", hard = dir + "/hard.bin", sym = dir + "/sym.bin"
    try OutputFile.write([1, 2, 3], to: input)
    #expect(link(input, hard) == 0 && symlink("in.bin", sym) == 0)
    let cases: [(String, OutputRefusal)] = [
      ("", .emptyPath), (dir, .directory), (dir + "/sub/", .directory), ("/dev/null", .notRegularFile(.characterDevice)),
      (input, .sameAsInput(input)), (hard, .sameAsInput(input)), (sym, .sameAsInput(input)),
      (dir + "/./in.bin", .sameAsInput(input)),
    ]
    for (path, reason) in cases {
      #expect(throws: FileError.refusedOutput(path: path, reason: reason)) { try OutputFile.write([9], to: path, inputs: [input]) }
    }
    #expect(Self.contents(input) == [1, 2, 3])
    #expect(try Self.leftovers(dir, keep: ["in.bin", "hard.bin", "sym.bin"]).isEmpty)
    let dangling = dir + "/dangling"
    #expect(symlink("nowhere/x", dangling) == 0)
    #expect(throws: FileError.refusedOutput(path: dangling, reason: .danglingLink)) { try OutputFile.write([9], to: dangling) }
    #expect(throws: FileError.cannotCreate(path: dir + "/no/such/folder", errno: ENOENT)) {
      try OutputFile.write([9], to: dir + "/no/such/folder")
    }
  }

  @Test func replacesASymbolicLinksTargetAndKeepsPermissions() throws {
    let dir = try Self.folder("link")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let target = dir + "/target.bin", sym = dir + "/sym.bin"
    try OutputFile.write([1], to: target)
    #expect(chmod(target, 0o640) == 0)
    #expect(symlink("target.bin", sym) == 0)
    try OutputFile.write([4, 5], to: sym)
    var st = stat()
    #expect(lstat(sym, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
    #expect(Self.contents(target) == [4, 5])
    #expect(stat(target, &st) == 0 && st.st_mode & 0o777 == 0o640)
    #expect(try Self.leftovers(dir, keep: ["target.bin", "sym.bin"]).isEmpty)
  }

  @Test func anUncommittedOrFailedOutputLeavesTheOldFile() throws {
    let dir = try Self.folder("fail")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/out.bin"
    try OutputFile.write([1, 2], to: path)
    do {
      let f = try OutputFile(path: path)
      try f.write([7, 7, 7])
    }
    #expect(Self.contents(path) == [1, 2])
    // a safetensors writer whose tensors were not all written refuses to commit
    let w = try SafetensorsWriter(path: path, entries: [.init(name: "x", dtype: .u8, shape: [4])], metadata: nil)
    try [UInt8](repeating: 3, count: 2).withUnsafeBytes { try w.write($0, tensor: "x") }
    #expect(throws: SafetensorsError.self) { try w.commit() }
    #expect(Self.contents(path) == [1, 2])
    #expect(try Self.leftovers(dir, keep: ["out.bin"]).isEmpty)
  }

  @Test func messagesNameTheFileAndTheReasonInWords() {
    let full = FileError.writeFailed(path: "w.e4m3", errno: ENOSPC).description
    #expect(full.contains("w.e4m3") && full.contains("No space left on device") && !full.contains("errno"))
    let weird = FileError.refusedOutput(path: "a\u{1B}[31mb", reason: .directory).description
    #expect(!weird.contains("\u{1B}") && weird.contains("\\u{1b}"))
  }
}
