// Every row of every real-GPU vector file, bit for bit, through the scalar path and every SIMD
// path this CPU runs. The folder is ../shared/tensorcore-vectors (or FP8EMU_VECTORS); without it
// these tests are reported as skipped.
import FP8
import FP8IO
import Foundation
import TensorCores
import Testing
import _TestSupport

private let vectorsDir = tensorCoreVectorsDirectory()

@Suite("Real-GPU tensor-core vectors")
struct VectorTests {
  // Skipped (not passed) when the vectors folder is absent.
  @Test("every row of every file is reproduced bit for bit on every ISA", .enabled(if: vectorsDir != nil, "no tensor-core vectors folder"))
  func allRows() throws {
    let dir = try #require(vectorsDir)
    let folders = try TensorCoreVectors.folders(in: dir)
    #expect(folders.count >= 19, "expected the 19 GPU × format folders, found \(folders.count)")
    var checkedRows = 0
    for (gpuName, inputName) in folders {
      let plan = try #require(TensorCoreValidation.plan(gpuFolder: gpuName, inputFolder: inputName),
                              "unknown folder \(gpuName)/\(inputName)")
      let set = try TensorCoreVectors.load(directory: dir, gpu: gpuName, input: inputName)
      for (acc, expected) in [(TensorCoreAccumulator.fp32, set.d32), (.fp16, set.d16)] {
        guard let expected else { continue }
        let model = try #require(plan.gpu.numerics(for: plan.input, accumulator: acc))
        for isa in ISA.supported {
          let out = try TensorCoreValidation.check(a: set.a, b: set.b, c: set.c, expected: expected, input: plan.input,
                                                   model: model, ignoreC: plan.ignoresC(accumulator: acc), isa: isa)
          #expect(out.allMatch, "\(gpuName) \(inputName) \(acc) on \(isa): \(out.matched)/\(out.rows); first: \(out.mismatches)")
          checkedRows += out.rows
        }
      }
    }
    // 19 folders with FP32 output, 11 of them with FP16 output too (6 of those FP8)
    #expect(checkedRows >= 30 * 5000 * ISA.supported.count)
  }
}

@Suite("Vector reader")
struct VectorReaderTests {
  func withFolder(_ files: [String: String], _ body: (String) throws -> Void) throws {
    let root = NSTemporaryDirectory() + "tcvec-\(UInt64.random(in: 0...UInt64.max))"
    let dir = root + "/X100/fp16"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    try body(root)
  }

  let one = "00111111100000000000000000000000\n"  // 1.0

  @Test func readsAWellFormedFolder() throws {
    try withFolder(["a_X100_fp16.txt": "3f800000 40000000\n", "b_X100_fp16.txt": "3f800000 3f800000\n",
                    "c_X100_fp32.txt": one, "d_X100_fp32.txt": one]) { root in
      let set = try TensorCoreVectors.load(directory: root, gpu: "X100", input: "fp16")
      #expect(set.a == [[1, 2]])
      #expect(set.c == [1])
      #expect(set.d16 == nil)
    }
  }

  @Test func malformedFilesGiveClearErrors() throws {
    try withFolder(["a_X100_fp16.txt": "3f80000g\n", "b_X100_fp16.txt": "3f800000\n", "c_X100_fp32.txt": one,
                    "d_X100_fp32.txt": one]) { root in
      #expect(throws: TensorCoreVectorError.self) { try TensorCoreVectors.load(directory: root, gpu: "X100", input: "fp16") }
    }
    try withFolder(["a_X100_fp16.txt": "3f800000\n", "b_X100_fp16.txt": "3f800000\n", "c_X100_fp32.txt": "0101\n",
                    "d_X100_fp32.txt": one]) { root in
      do {
        _ = try TensorCoreVectors.load(directory: root, gpu: "X100", input: "fp16")
        Issue.record("a 4-bit c line was accepted")
      } catch let e as TensorCoreVectorError {
        #expect(e.description.contains("4 bits, expected 32"))
      }
    }
    try withFolder(["a_X100_fp16.txt": "3f800000\n3f800000\n", "b_X100_fp16.txt": "3f800000\n",
                    "c_X100_fp32.txt": one, "d_X100_fp32.txt": one]) { root in
      #expect(throws: TensorCoreVectorError.self) { try TensorCoreVectors.load(directory: root, gpu: "X100", input: "fp16") }
    }
    try withFolder(["a_X100_fp16.txt": "3f800000\n", "b_X100_fp16.txt": "3f800000\n", "c_X100_fp32.txt": one]) { root in
      #expect(throws: TensorCoreVectorError.missingFile(root + "/X100/fp16/d_X100_fp32.txt")) {
        try TensorCoreVectors.load(directory: root, gpu: "X100", input: "fp16")
      }
    }
  }
}
