import Foundation

/// Cast statistics of one linear layer during a step (the last micro-batch's casts).
public struct LayerRecord: Sendable, Codable, Equatable {
  public var name: String
  public var activation: QuantStats?
  public var weight: QuantStats?
  public var gradient: QuantStats?
}

/// What the monitors log for one optimiser step.
public struct StepRecord: Sendable, Codable, Equatable {
  public var step: Int
  public var loss: Float
  public var gradNorm: Double
  public var lossScale: Float
  public var skipped: Bool
  public var learningRate: Float
  public var layers: [LayerRecord]
  /// Decisions taken this step (learning-rate reductions, re-calibrations), human readable.
  public var events: [String]
  /// This rank's gradient exchange (data-parallel runs only).
  public var exchange: ExchangeStats? = nil
}

/// Writes one line per step, as CSV (a header first) or JSON lines.
public final class MonitorLog {
  enum Format: String, Sendable { case csv, jsonl }
  let handle: FileHandle
  let format: Format
  var wroteHeader = false

  /// The format follows the extension: `.csv` gives CSV, anything else JSON lines.
  public init(path: String) throws(TrainingError) {
    guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
      throw .io("cannot create \(path)")
    }
    handle = h
    format = path.lowercased().hasSuffix(".csv") ? .csv : .jsonl
  }

  deinit { try? handle.close() }

  public func write(_ r: StepRecord, recipe: String) {
    var line: String
    switch format {
    case .jsonl:
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      struct Wrapped: Codable { var recipe: String; var record: StepRecord }
      line = (try? String(decoding: enc.encode(Wrapped(recipe: recipe, record: r)), as: UTF8.self)) ?? "{}"
    case .csv:
      line = ""
      if !wroteHeader {
        var h = ["recipe", "step", "loss", "grad_norm", "loss_scale", "skipped", "lr"]
        for l in r.layers {
          for k in TensorKind.allCases {
            for f in ["amax", "scale", "sqnr_db", "saturated", "flushed"] { h.append("\(l.name).\(k.shortName).\(f)") }
          }
        }
        if r.exchange != nil { h += ["exchange_gradient_bytes", "exchange_control_bytes", "exchange_sqnr_db"] }
        h.append("events")
        line = h.joined(separator: ",") + "\n"
        wroteHeader = true
      }
      var c = [recipe, "\(r.step)", "\(r.loss)", "\(r.gradNorm)", "\(r.lossScale)", r.skipped ? "1" : "0", "\(r.learningRate)"]
      for l in r.layers {
        for s in [l.activation, l.weight, l.gradient] {
          if let s { c += ["\(s.amax)", "\(s.scale)", "\(s.sqnrDB)", "\(s.saturated)", "\(s.flushed)"] } else { c += ["", "", "", "", ""] }
        }
      }
      if let e = r.exchange { c += ["\(e.gradientBytes)", "\(e.controlBytes)", "\(e.sqnrDB)"] }
      c.append("\"" + r.events.joined(separator: "; ").replacingOccurrences(of: "\"", with: "'") + "\"")
      line += c.joined(separator: ",")
    }
    handle.write(Data((line + "\n").utf8))
  }
}
