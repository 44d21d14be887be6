import FP8
import TensorCores

extension TransformerConfig {
  /// The peak memory of training this model, from its shapes, before anything is allocated: the
  /// parameters with their optimiser state and gradients, the FP8 copies of the linear weights,
  /// one micro-batch's activations kept for the backward pass (with the attention scores and the
  /// FP8 operand copies), the logits, an evaluation's forward pass, and the tensor-core workspace
  /// of the largest product. An upper bound rather than a forecast: it exists to refuse, with the
  /// figure, a model that cannot fit (`MemoryBudget.check`), not to plan to the byte.
  public func trainingMemoryEstimate(microBatch: Int, sequenceLength: Int, evaluationSequences: Int) -> MemoryEstimate {
    let p = MemoryEstimate.product
    let f = ffnMultiplier * d
    var e = MemoryEstimate()
    let sum = MemoryEstimate.sum
    let params = sum(parameterShapes.map(\.count))
    let linear = sum([p([layers, 4, d, d]), p([layers, 2, f, d]), p([vocab, d])])
    // masters, Adam m and v, the accumulated and the micro-batch's gradients, a spare copy
    e.add("parameters and optimiser state", bytes: p([params, 24]))
    e.add("FP8 weight copies", bytes: p([linear, 10]))
    let tokens = p([microBatch, sequenceLength])
    // per token and layer: the cached activations and their gradients (12d + 2f values, twice),
    // the FP8 operand copies of four products, and the attention scores and probabilities
    let perToken = sum([p([8, 12, d]), p([16, f]), p([15, d]), p([5, f]), p([12, heads, sequenceLength])])
    e.add("activations", bytes: p([tokens, layers, perToken]))
    e.add("logits", bytes: p([tokens, vocab, 12]))
    let evalTokens = p([evaluationSequences, sequenceLength])
    let evalPerToken = sum([p([48, d]), p([8, f]), p([8, heads, sequenceLength]), p([8, vocab])])
    e.add("evaluation", bytes: p([evalTokens, evalPerToken]))
    let gemm = TensorCoreGEMM.memoryEstimate(m: max(tokens, evalTokens), n: max(f, vocab), k: max(d, f), fp8: true)
    e.add("tensor-core workspace", bytes: gemm.total)
    e.add("runtime", bytes: 64 << 20)
    return e
  }
}
