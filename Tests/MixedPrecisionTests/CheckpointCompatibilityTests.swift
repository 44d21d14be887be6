// Checkpoints written before the options held types (GPU, gradient format and SIMD path as the
// strings the user typed) still load and resume.
import FP8
import Foundation
import Testing
@testable import MixedPrecision
import _TestSupport

@Suite struct CheckpointCompatibilityTests {
  /// Written by the previous version (commit 4dbbb89):
  /// `fp8emu train --task addition --recipe delayed --gpu sm_90 --grad-format E4M3 --steps 2
  ///  --micro-batch 2 --accumulation 1 --width 8 --layers 1 --heads 2 --amax-history 4
  ///  --high-precision none --save-checkpoint delayed-sm90-v1.safetensors`.
  static let path = packageRoot() + "/Tests/MixedPrecisionTests/Fixtures/delayed-sm90-v1.safetensors"

  @Test func optionsWrittenAsStringsAreRead() throws {
    let c = try Checkpoint.load(from: Self.path)
    #expect(c.options.recipe == .delayed && c.options.gpu == .h100)
    #expect(c.options.gradientFormat == .e4m3 && c.options.isa == .auto)
    #expect(c.step == 2 && c.config.d == 8 && c.config.layers == 1)
    #expect(c.delayed.count == 5 && c.delayed.allSatisfy { $0.count == 3 && $0.allSatisfy { $0.history.count == 4 } })
  }

  /// Resuming it to step 4 gives what the previous version printed for the same resume
  /// (`... --steps 4 --resume delayed-sm90-v1.safetensors --json`): final loss 2.531348943710327,
  /// held-out loss 2.4359405040740967.
  @Test func resumesAsThePreviousVersionDid() throws {
    let c = try Checkpoint.load(from: Self.path)
    var o = c.options
    o.steps = 4
    let t = try Trainer(options: o, task: AdditionTask(), engine: TensorCoreMatmulEngine(), model: c.config)
    try t.restore(c)
    let r = try t.run()
    #expect(r.losses.count == 2)
    #expect(r.finalLoss == 2.531348943710327)
    #expect(r.heldOutLoss == 2.4359405040740967)
  }

  /// What this version writes reads back equal, with the options as types.
  @Test func roundTrip() throws {
    let c = try Checkpoint.load(from: Self.path)
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("compat-\(UInt32.random(in: 0...UInt32.max)).safetensors").path
    defer { try? FileManager.default.removeItem(atPath: copy) }
    try SafetensorsCheckpointStore().save(c, to: copy)
    #expect(try Checkpoint.load(from: copy) == c)
  }
}
