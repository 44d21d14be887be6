/// Named transformer sizes (`--model`), from the main job's small model to nanoGPT's
/// character-level Shakespeare model.
///
/// | name | layers | heads | d | context | parameters (vocabulary 30) |
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
  /// Sequences per micro-batch on text tasks when none is given.
  public var textMicroBatch: Int { switch self { case .tiny: 6; case .small: 4; case .medium, .nanoGPT: 2 } }

  /// The shape for a vocabulary and a sequence length.
  public func config(vocab: Int, sequenceLength: Int) -> TransformerConfig {
    TransformerConfig(vocab: vocab, maxSeq: sequenceLength, d: width, heads: heads, layers: layers)
  }
}

extension TransformerConfig {
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
