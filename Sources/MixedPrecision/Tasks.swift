import FP8IO
import Foundation

/// A task the transformer is trained on: it draws training batches and scores a model.
public protocol TrainingTask: Sendable {
  var name: String { get }
  var vocab: Int { get }
  /// Tokens per training sequence (the model input length).
  var sequenceLength: Int { get }
  /// The metric ``evaluate`` reports ("exact match", "bits/char").
  var metricName: String { get }
  /// Sequences per micro-batch when the user gives none: addition's sequences are 8 tokens,
  /// text's 32, so text takes fewer of them per step.
  var defaultMicroBatch: Int { get }
  func trainBatch(_ rng: inout TrainRNG, size: Int) -> Batch
  /// The metric on held-out data and the held-out loss; `logits` runs the model forward.
  func evaluate(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> (metric: Double, loss: Double)
  /// The held-out loss alone (one teacher-forced forward pass over the held-out set).
  func heldOutLoss(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> Double
  /// The most sequences one evaluation runs through the model at once (for memory estimates).
  var evaluationSequences: Int { get }
}

extension TrainingTask {
  public var evaluationSequences: Int { 64 }
}

/// The built-in tasks by their command-line names (`fp8emu train --task`, `fp8-bench train --task`).
public enum BuiltInTask: String, CaseIterable, Sendable {
  /// Character-level language model on ``WordChain`` text (the default).
  case wordchain
  /// ``AdditionTask``.
  case addition

  /// The task; `sequenceLength` sets wordchain's (default 32), addition's follows from `digits`.
  public func make(digits: Int = 2, labelNoise: Double = 0.1, sequenceLength: Int? = nil) throws(TrainingError) -> any TrainingTask {
    switch self {
    case .wordchain: return try TextTask.wordChain(sequenceLength: sequenceLength ?? 32)
    case .addition:
      let task = AdditionTask(digits: digits, labelNoise: labelNoise)
      if let sequenceLength, sequenceLength != task.sequenceLength {
        throw .invalidArgument("addition of \(digits)-digit numbers has sequences of \(task.sequenceLength) tokens, not \(sequenceLength)")
      }
      return task
    }
  }
}

/// Addition of two `digits`-digit numbers written as characters, answer reversed (least significant
/// digit first, so that each digit depends only on digits already seen and the carry):
/// `"12+34=640"` means 12 + 34 = 046. Loss on the answer digits only. About 10% of the pairs
/// (chosen by a hash) are held out; the metric is exact-match accuracy of greedy decoding on them.
///
/// `labelNoise`: in training sequences each answer digit is replaced by a uniformly random digit
/// with this probability (default 0.1). This gives the training loss an entropy floor (about
/// 0.50 nats per answer digit at 0.1), as natural data has, so that "final loss relative to FP32"
/// compares converged runs instead of ratios of numbers near zero. Held-out data are clean.
public struct AdditionTask: TrainingTask {
  public let digits: Int
  public let evalCount: Int
  public let labelNoise: Double
  public init(digits: Int = 2, evalCount: Int = 512, labelNoise: Double = 0.1) {
    self.digits = digits; self.evalCount = evalCount; self.labelNoise = labelNoise
  }

  public var name: String { "addition\(digits)" }
  public var defaultMicroBatch: Int { 16 }
  public var evaluationSequences: Int { evalCount }
  public var vocab: Int { 12 }  // 0-9, '+', '='
  public var sequenceLength: Int { 3 * digits + 2 }
  public var metricName: String { "exact match" }
  var limit: Int { Int(pow(10.0, Double(digits))) }

  /// Whether the pair (a, b) is held out.
  func isHeldOut(_ a: Int, _ b: Int) -> Bool {
    var z = UInt64(a &* 1_000_003 &+ b) &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return (z ^ (z >> 31)) % 10 == 0
  }

  /// The full token sequence of a + b (length sequenceLength + 1).
  func sequence(_ a: Int, _ b: Int) -> [Int] {
    func digitsOf(_ x: Int, _ n: Int) -> [Int] { (0..<n).reversed().map { (x / Int(pow(10.0, Double($0)))) % 10 } }
    let s = a + b
    return digitsOf(a, digits) + [10] + digitsOf(b, digits) + [11] + Array(digitsOf(s, digits + 1).reversed())
  }

  func batch(of pairs: [(Int, Int)], noise rng: UnsafeMutablePointer<TrainRNG>? = nil) -> Batch {
    let L = sequenceLength
    var tokens: [Int] = [], targets: [Int] = [], weights: [Float] = []
    for (a, b) in pairs {
      var s = sequence(a, b)
      if let rng, labelNoise > 0 {
        for i in (2 * digits + 2)...L where rng.pointee.uniform() < labelNoise { s[i] = rng.pointee.int(below: 10) }
      }
      tokens += s[0..<L]
      targets += s[1...L]
      weights += (0..<L).map { $0 >= 2 * digits + 1 ? 1 : 0 }
    }
    return Batch(tokens: tokens, targets: targets, weights: weights, batch: pairs.count, seq: L)
  }

  public func trainBatch(_ rng: inout TrainRNG, size: Int) -> Batch {
    var pairs: [(Int, Int)] = []
    while pairs.count < size {
      let a = rng.int(below: limit), b = rng.int(below: limit)
      if !isHeldOut(a, b) { pairs.append((a, b)) }
    }
    return withUnsafeMutablePointer(to: &rng) { batch(of: pairs, noise: $0) }
  }

  /// The first `evalCount` held-out pairs in a fixed order.
  var heldOut: [(Int, Int)] {
    var out: [(Int, Int)] = []
    var i = 0
    let stride = 7919  // visit pairs in a scrambled but fixed order
    while out.count < evalCount && i < limit * limit {
      let idx = (i * stride) % (limit * limit)
      let a = idx / limit, b = idx % limit
      if isHeldOut(a, b) { out.append((a, b)) }
      i += 1
    }
    return out
  }

  public func heldOutLoss(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> Double {
    let b = batch(of: heldOut)
    let lg = try logits(b.tokens, b.batch, sequenceLength)
    return Double(Layers.crossEntropy(lg, targets: b.targets, weights: b.weights, rows: b.batch * sequenceLength, vocab: vocab).0)
  }

  public func evaluate(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> (metric: Double, loss: Double) {
    let pairs = heldOut
    let b = batch(of: pairs)
    let L = sequenceLength, V = vocab, n = pairs.count
    // Held-out loss (teacher forcing).
    let lg = try logits(b.tokens, n, L)
    let (loss, _) = Layers.crossEntropy(lg, targets: b.targets, weights: b.weights, rows: n * L, vocab: V)
    // Greedy decoding of the answer digits.
    var tokens = b.tokens
    let first = 2 * digits + 1
    for r in 0..<n { for p in (first + 1)..<L { tokens[r * L + p] = 0 } }
    var predicted = [[Int]](repeating: [], count: n)
    for pos in first..<L + 0 {
      let out = try logits(tokens, n, L)
      for r in 0..<n {
        var best = 0
        for v in 1..<10 where out[(r * L + pos) * V + v] > out[(r * L + pos) * V + best] { best = v }
        predicted[r].append(best)
        if pos + 1 < L { tokens[r * L + pos + 1] = best }
      }
    }
    var correct = 0
    for (r, (a, bb)) in pairs.enumerated() {
      let truth = Array(sequence(a, bb)[(first + 1)...])
      if predicted[r] == truth { correct += 1 }
    }
    return (Double(correct) / Double(max(n, 1)), Double(loss))
  }
}

/// Character-level language modelling on a text file: the vocabulary is the file's distinct
/// characters; the first 90% trains, the last 10% is held out; the metric is bits per character
/// (held-out cross-entropy / ln 2).
public struct TextTask: TrainingTask {
  let chars: [Character]
  let ids: [Int]
  public let sequenceLength: Int
  let split: Int
  /// "text" for a file, "wordchain" for the built-in synthetic language.
  public var name = "text"
  /// The source's entropy rate in bits per character when it is known (synthetic text): the
  /// floor of the metric.
  public var entropyFloorBits: Double?

  public init(text: String, sequenceLength: Int = 32) throws(TrainingError) {
    guard sequenceLength > 0 else { throw .invalidArgument("sequence length \(sequenceLength)") }
    chars = Array(Set(text)).sorted()
    let index = Dictionary(uniqueKeysWithValues: chars.enumerated().map { ($1, $0) })
    ids = text.map { index[$0]! }
    self.sequenceLength = sequenceLength
    split = ids.count * 9 / 10
    guard split > sequenceLength + 1, ids.count - split > sequenceLength + 1 else {
      throw .badText("the text is too short: \(ids.count) characters, sequences of \(sequenceLength) need at least \(10 * (sequenceLength + 2) + 10)")
    }
  }

  /// The text of a UTF-8 file (anything else is refused, not guessed at).
  public init(file: String, sequenceLength: Int = 32) throws(TrainingError) {
    let bytes: [UInt8]
    do {
      let f = try InputFile(path: file)
      bytes = try f.read(count: f.size, at: 0)
    } catch { throw .file(error) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw .badText("\(quotedPath(file)) is not UTF-8 text")
    }
    do { try self.init(text: text, sequenceLength: sequenceLength) } catch {
      throw .badText("\(quotedPath(file)): \(error)")
    }
  }

  public var vocab: Int { chars.count }
  public var metricName: String { "bits/char" }
  /// About 192 tokens: 6 sequences of 32 characters.
  public var defaultMicroBatch: Int { max(1, 192 / sequenceLength) }

  func window(at start: Int) -> ([Int], [Int]) {
    (Array(ids[start..<start + sequenceLength]), Array(ids[start + 1...start + sequenceLength]))
  }

  public func trainBatch(_ rng: inout TrainRNG, size: Int) -> Batch {
    var t: [Int] = [], y: [Int] = []
    for _ in 0..<size {
      let (a, b) = window(at: rng.int(below: split - sequenceLength - 1))
      t += a; y += b
    }
    return Batch(tokens: t, targets: y, weights: [Float](repeating: 1, count: t.count), batch: size, seq: sequenceLength)
  }

  public func heldOutLoss(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> Double {
    try evaluate(logits: logits).loss
  }

  public func evaluate(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> (metric: Double, loss: Double) {
    let avail = ids.count - split - sequenceLength - 1
    let count = min(64, max(1, avail / sequenceLength))
    var t: [Int] = [], y: [Int] = []
    for i in 0..<count { let (a, b) = window(at: split + i * (avail / count)); t += a; y += b }
    let lg = try logits(t, count, sequenceLength)
    let (loss, _) = Layers.crossEntropy(lg, targets: y, weights: [Float](repeating: 1, count: t.count), rows: t.count, vocab: vocab)
    return (Double(loss) / log(2.0), Double(loss))
  }
}
