import FP8
import FP8Linalg

/// Named transformer sizes (`--model`), from the main job's small model to nanoGPT's
/// character-level Shakespeare model.
///
/// | name | layers | heads | d | context | parameters (wordchain: 26 characters) |
/// |---|---|---|---|---|---|
/// | `tiny` (default) | 2 | 4 | 64 | 32 | 0.1M |
/// | `small` | 4 | 4 | 128 | 64 | 0.8M |
/// | `medium` | 6 | 8 | 256 | 128 | 4.8M |
/// | `nanogpt` | 6 | 6 | 384 | 256 | 10.7M |
public enum ModelSize: String, CaseIterable, Sendable, Codable {
  case tiny, small, medium
  case nanoGPT = "nanogpt"

  public var layers: Int { switch self { case .tiny: 2; case .small: 4; case .medium, .nanoGPT: 6 } }
  public var heads: Int { switch self { case .tiny, .small: 4; case .medium: 8; case .nanoGPT: 6 } }
  public var width: Int { switch self { case .tiny: 64; case .small: 128; case .medium: 256; case .nanoGPT: 384 } }
  /// The sequence length of text tasks when none is given (the model's context).
  public var context: Int { switch self { case .tiny: 32; case .small: 64; case .medium: 128; case .nanoGPT: 256 } }
  /// The shape for a vocabulary and a sequence length.
  public func config(vocab: Int, sequenceLength: Int) -> TransformerConfig {
    TransformerConfig(vocab: vocab, maxSeq: sequenceLength, d: width, heads: heads, layers: layers)
  }
}

extension TransformerConfig {
  /// About what a training run holds, in bytes: per parameter the master, its gradient and the
  /// step's sum, AdamW's two moments and FP8 copies (8 floats); per micro-batch the saved
  /// activations (per layer 12 + 4·ffn floats per token and d, probabilities and their gradient
  /// per head) and the logits with their gradient. Throws when this overflows or exceeds physical
  /// memory.
  package func trainingBytes(microBatch: Int, seq: Int) throws(FP8Error) -> Int {
    let what = "training \(parameterCount) parameters on micro-batches of \(microBatch)×\(seq) tokens"
    let tokens = try ResourceLimits.checkedBytes([microBatch, seq], what: what)
    let perLayer = try ResourceLimits.checkedBytes([tokens, d, 12 + 4 * ffnMultiplier], what: what)
      + 2 * (try ResourceLimits.checkedBytes([microBatch, heads, seq, seq], what: what))
    let floats = try ResourceLimits.checkedBytes([layers, perLayer], what: what) + 8 * parameterCount
      + 3 * (try ResourceLimits.checkedBytes([tokens, vocab], what: what))
    return try ResourceLimits.checkedBytes([floats, 4], what: what)
  }

  /// Parameters of the model.
  public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.count } }

  /// Matrix-product FLOPs of training on one token of a `seq`-token sequence: the forward pass
  /// does 2 × (linear weights) plus 2 × 2 × seq × d per layer for QKᵀ and PV over the full square
  /// (as nanoGPT counts them; causal masking does half of that work), the backward pass twice the
  /// forward.
  public func trainingFLOPsPerToken(seq: Int) -> Double {
    let f = ffnMultiplier * d
    let linear = layers * (3 * d * d + d * d + 2 * f * d) + vocab * d
    return 3 * Double(2 * linear + 4 * layers * seq * d)
  }
}
