// The built-in synthetic language: its chain is well formed, its text is reproducible, and its
// entropy rate (computed from the stationary distribution) agrees with a Monte-Carlo estimate
// taken along generated text.
import Testing
@testable import MixedPrecision
import Foundation

@Suite struct WordChainTests {
  @Test func chainIsWellFormed() {
    let c = WordChain()
    #expect(c.words.count == 400 && Set(c.words).count == 400)
    #expect(abs(c.start.reduce(0, +) - 1) < 1e-12)
    for s in c.successors {
      #expect(s.count == 12 && Set(s.map(\.word)).count == 12)
      #expect(abs(s.reduce(0) { $0 + $1.p } - 1) < 1e-12)
    }
  }

  @Test func textIsReproducible() {
    let c = WordChain()
    let a = c.generate(characters: 5000), b = WordChain().generate(characters: 5000)
    #expect(a == b)
    #expect(a != c.generate(characters: 5000, seed: 2))
    #expect(a.utf8.count >= 5000 && a.utf8.count < 5000 + 32)
    #expect(a.allSatisfy { $0 == " " || $0 == "." || $0 == "\n" || ("a"..."z").contains($0) })
  }

  /// −log2 of the chain's probability of each transition along 400k generated characters, per
  /// character: converges to the entropy rate (ergodic theorem). Independent of the power iteration.
  @Test func entropyRateMatchesMonteCarlo() {
    let c = WordChain()
    let text = c.generate(characters: 400_000)
    let index = Dictionary(uniqueKeysWithValues: c.words.enumerated().map { ($1, $0) })
    var bits = 0.0, chars = 0, prev: Int?
    var i = text.startIndex, sentenceStart = true
    while i < text.endIndex {
      // One word, then its separator (" " or ".\n"); the last word may be cut short.
      guard let end = text[i...].firstIndex(where: { $0 == " " || $0 == "." }) else { break }
      guard let w = index[String(text[i..<end])] else { Issue.record("unknown word"); return }
      if let p = prev {
        let pr = sentenceStart ? c.sentenceEnd * c.start[w]
          : (1 - c.sentenceEnd) * (c.successors[p].first { $0.word == w }?.p ?? 0)
        bits -= log2(pr)
        chars += text.distance(from: i, to: end) + (sentenceStart ? 2 : 1)
      }
      sentenceStart = text[end] == "."
      prev = w
      i = text.index(end, offsetBy: sentenceStart ? 2 : 1, limitedBy: text.endIndex) ?? text.endIndex
    }
    let exact = c.entropyBitsPerCharacter
    #expect(exact > 0.3 && exact < 2)
    #expect(abs(bits / Double(chars) - exact) < 0.02 * exact)
  }

  @Test func deterministicChainHasZeroEntropy() {
    let c = WordChain(seed: 3, lexicon: 10, fanOut: 1, sentenceEnd: 0)
    #expect(abs(c.entropyBitsPerCharacter) < 1e-12)
  }

  @Test func builtInTask() throws {
    let t = try TextTask.wordChain(characters: 100_000)
    #expect(t.name == "wordchain" && t.metricName == "bits/char")
    #expect(t.vocab == 26)  // 23 letters, space, '.', newline
    #expect(t.entropyFloorBits == WordChain().entropyBitsPerCharacter)
    var rng = TrainRNG(seed: 1)
    let b = t.trainBatch(&rng, size: 6)
    #expect(b.tokens.count == 6 * 32 && b.targets.count == 6 * 32)
    #expect(b.tokens.allSatisfy { (0..<t.vocab).contains($0) })
  }
}
