import Foundation

/// A synthetic language: a fixed lexicon of pronounceable pseudo-words and a first-order Markov
/// chain over them, written out as lower-case text. It is the built-in character-level language
/// modelling task (``TextTask/wordChain(characters:)``): it needs no download, is the same on every
/// machine, gives an unlimited supply of fresh text, and — unlike a small algorithmic task, whose
/// loss falls in steps whose timing any rounding change moves — its loss curve falls smoothly, so
/// that "FP8 relative to FP32" measures the numerics rather than the timing of a plateau escape.
///
/// The text is a sequence of words. After each word the sentence ends with probability
/// `sentenceEnd` (".\n" follows, then a word drawn from the Zipf start distribution); otherwise a
/// space follows, then one of the word's `successors` (a fixed random set with fixed random
/// weights). Spelling is deterministic, so the character process is an injective image of the word
/// chain and its entropy rate is known exactly (``entropyBitsPerCharacter``): the floor of the
/// bits-per-character metric.
struct WordChain: Sendable {
  let words: [String]
  /// Probability of the first word of a sentence (Zipf, 1/rank).
  let start: [Double]
  /// For each word, the indices of its successors and their probabilities.
  let successors: [[(word: Int, p: Double)]]
  let sentenceEnd: Double

  /// - Parameters: `seed` fixes the lexicon and the chain (the default is the built-in task's);
  ///   `lexicon` words, each with `fanOut` successors.
  init(seed: UInt64 = 0x5EED_0F_FB8, lexicon: Int = 400, fanOut: Int = 12, sentenceEnd: Double = 0.12) {
    precondition(lexicon >= 2 && fanOut >= 1 && fanOut <= lexicon && (0...1).contains(sentenceEnd))
    var rng = TrainRNG(seed: seed)
    let consonants = Array("bcdfghjklmnprstvwz"), vowels = Array("aeiou")
    // One to three syllables (consonant, vowel, optional coda); duplicates are drawn again.
    var seen = Set<String>(), list: [String] = []
    while list.count < lexicon {
      var w = ""
      for _ in 0..<[1, 2, 2, 3][rng.int(below: 4)] {
        w.append(consonants[rng.int(below: consonants.count)])
        w.append(vowels[rng.int(below: vowels.count)])
        if rng.uniform() < 0.4 { w.append(consonants[rng.int(below: consonants.count)]) }
      }
      if seen.insert(w).inserted { list.append(w) }
    }
    words = list
    let zipf = (0..<lexicon).map { 1 / Double($0 + 1) }
    let zsum = zipf.reduce(0, +)
    start = zipf.map { $0 / zsum }
    var succ: [[(word: Int, p: Double)]] = []
    for _ in 0..<lexicon {
      // fanOut distinct successors (partial Fisher–Yates), weighted by Zipf rank × a random factor.
      var pool = Array(0..<lexicon)
      var chosen: [(word: Int, p: Double)] = []
      for k in 0..<fanOut {
        pool.swapAt(k, k + rng.int(below: lexicon - k))
        chosen.append((pool[k], zipf[pool[k]] * (0.05 + rng.uniform())))
      }
      let s = chosen.reduce(0) { $0 + $1.p }
      succ.append(chosen.map { ($0.word, $0.p / s) })
    }
    successors = succ
    self.sentenceEnd = sentenceEnd
  }

  /// Text of at least `characters` characters, generated from `seed`; starts with a sentence.
  func generate(characters: Int, seed: UInt64 = 1) -> String {
    var rng = TrainRNG(seed: seed)
    var out = ""
    out.reserveCapacity(characters + 32)
    let firstWords = start.indices.map { (word: $0, p: start[$0]) }
    var w = Self.draw(firstWords, &rng)
    while out.utf8.count < characters {
      out += words[w]
      if rng.uniform() < sentenceEnd {
        out += ".\n"
        w = Self.draw(firstWords, &rng)
      } else {
        out += " "
        w = Self.draw(successors[w], &rng)
      }
    }
    return out
  }

  private static func draw(_ choices: [(word: Int, p: Double)], _ rng: inout TrainRNG) -> Int {
    var u = rng.uniform()
    for c in choices { u -= c.p; if u < 0 { return c.word } }
    return choices.last!.word
  }

  /// Entropy rate of the character stream in bits per character: the entropy of one word
  /// transition (end-of-sentence decision, then the next word) over the characters it emits
  /// (separator and word), both averaged over the chain's stationary distribution (power
  /// iteration). No model can do better on average than this.
  var entropyBitsPerCharacter: Double {
    let n = words.count, e = sentenceEnd
    func h(_ ps: [Double]) -> Double { ps.reduce(0) { $1 > 0 ? $0 - $1 * log2($1) : $0 } }
    let hStart = h(start)
    let lenStart = zip(start, words).reduce(0) { $0 + $1.0 * Double($1.1.count) }
    var mu = start
    for _ in 0..<2000 {
      var next = start.map { $0 * e }
      for i in 0..<n { for s in successors[i] { next[s.word] += mu[i] * (1 - e) * s.p } }
      mu = next
    }
    var bits = 0.0, chars = 0.0
    for i in 0..<n {
      let hi = h([e, 1 - e]) + (1 - e) * h(successors[i].map(\.p)) + e * hStart
      let li = (1 - e) * (1 + successors[i].reduce(0) { $0 + $1.p * Double(words[$1.word].count) }) + e * (2 + lenStart)
      bits += mu[i] * hi; chars += mu[i] * li
    }
    return bits / chars
  }
}

extension TextTask {
  /// The built-in language-modelling task: `characters` of ``WordChain`` text (the default chain,
  /// generated from a fixed seed), 90% for training windows and 10% held out.
  static func wordChain(characters: Int = 2_000_000, sequenceLength: Int = 32) throws(TrainingError) -> TextTask {
    let chain = WordChain()
    var t = try TextTask(text: chain.generate(characters: characters), sequenceLength: sequenceLength)
    t.name = "wordchain"
    t.entropyFloorBits = chain.entropyBitsPerCharacter
    return t
  }
}
