// The named model sizes, sequence lengths of the built-in tasks, and the checks a trainer makes
// before allocating a model.
import FP8
import Testing
@testable import MixedPrecision

@Suite struct ModelSizeTests {
  /// nanoGPT's character model: 6 layers, 6 heads, d 384, context 256. On Shakespeare (65
  /// characters) nanoGPT reports 10.65M parameters: no biases, the head tied to the token
  /// embedding, the position embedding not counted. Ours has biases and an untied head.
  @Test func nanoGPTShape() {
    let c = ModelSize.nanoGPT.config(vocab: 65, sequenceLength: 256)
    #expect(c.layers == 6 && c.heads == 6 && c.d == 384 && c.maxSeq == 256)
    let biases = 6 * (3 * 384 + 384 + 4 * 384 + 384 + 384 + 384) + 384  // linear and LayerNorm biases
    let extra = 256 * 384 + (65 * 384 + 65) + biases  // position embedding, untied head
    #expect(c.parameterCount - extra == 10_646_784)
    #expect(c.parameterCount == 10_795_841)
  }

  @Test func sequenceLengths() throws {
    let text = try BuiltInTask.wordchain.make(sequenceLength: 64)
    #expect(text.sequenceLength == 64 && text.defaultMicroBatch == 3)
    #expect(try BuiltInTask.wordchain.make().sequenceLength == 32)
    #expect(try BuiltInTask.wordchain.make().defaultMicroBatch == 6)
    #expect(try BuiltInTask.addition.make(sequenceLength: 8).sequenceLength == 8)
    #expect(throws: TrainingError.self) { try BuiltInTask.addition.make(sequenceLength: 9) }
    #expect(throws: TrainingError.self) { try BuiltInTask.wordchain.make(sequenceLength: 0) }
  }

  /// Shapes the layers cannot take and runs that would not fit in memory are refused before
  /// anything is allocated.
  @Test func trainerRefusesBadShapesAndHugeRuns() throws {
    let task = AdditionTask()
    var o = TrainingOptions()
    o.microBatch = 2
    func make(_ c: TransformerConfig) throws { _ = try Trainer(options: o, task: task, model: c) }
    #expect(throws: TrainingError.self) { try make(TransformerConfig(vocab: 12, maxSeq: 8, d: 30, heads: 4, layers: 1)) }
    #expect(throws: TrainingError.self) { try make(TransformerConfig(vocab: 12, maxSeq: 4, d: 32, heads: 4, layers: 1)) }
    #expect(throws: TrainingError.self) { try make(TransformerConfig(vocab: 5, maxSeq: 8, d: 32, heads: 4, layers: 1)) }
    #expect(throws: TrainingError.self) { try make(TransformerConfig(vocab: 12, maxSeq: 8, d: 1 << 21, heads: 4, layers: 1)) }
    o.microBatch = 1 << 40
    do {
      try make(TransformerConfig(vocab: 12, maxSeq: 8, d: 32, heads: 4, layers: 1))
      Issue.record("a run of 2^40 sequences per micro-batch was accepted")
    } catch TrainingError.fp8(.outOfMemory) {
    } catch TrainingError.fp8(.sizeOverflow) {
    } catch { Issue.record("unexpected \(error)") }
    o.microBatch = 2
    try make(TransformerConfig(vocab: 12, maxSeq: 8, d: 32, heads: 4, layers: 1))
  }
}
