import ArgumentParser
import FP8IO
import Foundation
import MixedPrecision

/// Before a multi-threaded measurement: lets the other side's idle OpenMP workers stop spinning
/// (LLVM's runtime spins 200 ms by default), so that they do not take a core from this one.
func settle(_ threads: Int) { if threads > 1 { usleep(300_000) } }

/// CPU time of this process, all threads (CLOCK_PROCESS_CPUTIME_ID).
func processCPUSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// `fp8-bench train`: training throughput of our engine against PyTorch on the same model, in one
/// run. Every round measures, for each model size and thread count, our recipes and then PyTorch
/// FP32 and torchao's emulated FP8 (`scripts/torch_twin.py serve`, a child process), one after
/// the other; a figure is the median over rounds of each measurement's median step time (wall
/// clock, and the process's CPU time).
struct TrainBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "Training throughput against PyTorch (tokens/s, GFLOP/s).")

  @Option(help: "Comma-separated model sizes (\(ModelSize.allCases.map(\.rawValue).joined(separator: ", "))).")
  var models = "tiny,nanogpt"
  @Option(help: "Comma-separated thread counts.") var threads = "1,2"
  @Option(help: "Comma-separated recipes of ours (fp32, bf16, delayed, current, rowwise, blockwise, mxfp8).")
  var recipes = "fp32,current"
  @Option(help: "GPU numerics of our FP8 products.") var gpu = "h100"
  @Option(help: "Interleaved rounds (the figure is their median).") var rounds = 3
  @Option(help: "Timed steps per measurement (after one warm-up step per run).") var steps = 3
  @Option(help: "Python with torch (and torchao) installed.") var python = "python3"
  @Option(help: "The PyTorch twin.") var torchScript = "scripts/torch_twin.py"
  @Flag(help: "Leave PyTorch out.") var noTorch = false
  @Flag(help: "One JSON object per row.") var json = false

  struct Row: Codable {
    var suite = "train"
    var model: String
    var threads: Int
    var run: String
    var tokensPerStep: Int
    var medianStepSeconds: Double
    var tokensPerSecond: Double
    var gflops: Double
    var vsPyTorchFP32: Double?
    /// The same from the processes' CPU time per step (all threads), which the other processes of a
    /// shared machine disturb less than the wall clock.
    var medianStepCPUSeconds: Double
    var tokensPerCPUSecond: Double
    var cpuVsPyTorchFP32: Double?
  }

  /// One model size's measured shape: the wordchain task at the size's context, the main job's
  /// micro-batches (about 192 tokens, at least one sequence) and accumulation.
  struct Setup {
    var size: ModelSize
    var task: any TrainingTask
    var config: TransformerConfig
    var microBatch: Int
    var accumulation = 4
    var tokensPerStep: Int { microBatch * accumulation * config.maxSeq }
  }

  func validate() throws {
    guard steps >= 1, rounds >= 1 else { throw ValidationError("--steps and --rounds must be at least 1") }
    for name in models.split(separator: ",", omittingEmptySubsequences: false) where ModelSize(rawValue: String(name)) == nil {
      throw ValidationError("--models: unknown size \"\(name)\" (\(ModelSize.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    for t in threads.split(separator: ",", omittingEmptySubsequences: false) where (Int(t) ?? 0) < 1 || (Int(t) ?? 0) > 4096 {
      throw ValidationError("--threads: \"\(t)\" is not a thread count from 1 to 4096")
    }
    guard TrainingGPU(name: gpu) != nil else { throw ValidationError("--gpu: \(TrainingGPU.allCases.map(\.rawValue).joined(separator: ", "))") }
    for name in recipes.split(separator: ",", omittingEmptySubsequences: false) where Recipe(rawValue: String(name)) == nil {
      throw ValidationError("--recipes: unknown recipe \"\(name)\" (\(Recipe.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
  }

  func run() throws {
    let sizes = try models.split(separator: ",").map { s -> ModelSize in
      guard let m = ModelSize(rawValue: String(s)) else { throw ValidationError("unknown model size '\(s)'") }
      return m
    }
    let threadCounts = try threads.split(separator: ",").map { s -> Int in
      guard let t = Int(s), t > 0 else { throw ValidationError("--threads: positive integers") }
      return t
    }
    let ours = try recipes.split(separator: ",").map { s -> Recipe in
      guard let r = Recipe(rawValue: String(s)) else { throw ValidationError("unknown recipe '\(s)'") }
      return r
    }
    guard rounds > 0, steps > 0 else { throw ValidationError("--rounds and --steps must be positive") }
    guard let trainingGPU = TrainingGPU(name: gpu) else {
      throw ValidationError("--gpu: \(TrainingGPU.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let setups = try sizes.map { size -> Setup in
      let task = try BuiltInTask.wordchain.make(sequenceLength: size.context)
      return Setup(size: size, task: task, config: size.config(vocab: task.vocab, sequenceLength: size.context),
                   microBatch: task.defaultMicroBatch)
    }
    var torch: TorchServer?
    if !noTorch {
      do { torch = try TorchServer(python: python, script: torchScript) } catch { throw ValidationError("\(error)") }
    }
    var torchRuns = ["pytorch-fp32"]
    if torch?.torchaoVersion != nil { torchRuns.append("torchao-fp8-emulated") }

    var trainers: [String: Trainer] = [:]
    var warmedTorch = Set<String>()
    var perRound: [String: [Double]] = [:], perRoundCPU: [String: [Double]] = [:]  // key: model/threads/run
    func key(_ s: Setup, _ t: Int, _ run: String) -> String { "\(s.size.rawValue)/\(t)/\(run)" }
    func median(_ x: [Double]) -> Double { let s = x.sorted(); return s[s.count / 2] }

    for _ in 0..<rounds {
      for s in setups {
        for t in threadCounts {
          for r in ours {
            let name = r.isFP8 ? "ours-\(r.rawValue)-\(gpu)" : "ours-\(r.rawValue)"
            let k = key(s, t, name)
            if trainers[k] == nil {
              var o = TrainingOptions()
              o.recipe = r; o.gpu = trainingGPU; o.steps = 1_000_000; o.microBatch = s.microBatch; o.accumulation = s.accumulation
              let tr = try Trainer(options: o, task: s.task, engine: TensorCoreMatmulEngine(threads: t), model: s.config, threads: t)
              try tr.trainStep()
              trainers[k] = tr
            }
            settle(t)
            var times: [Double] = [], cpu: [Double] = []
            for _ in 0..<steps {
              let start = DispatchTime.now().uptimeNanoseconds, c = processCPUSeconds()
              try trainers[k]!.trainStep()
              times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
              cpu.append(processCPUSeconds() - c)
            }
            perRound[k, default: []].append(median(times))
            perRoundCPU[k, default: []].append(median(cpu))
          }
          guard let torch else { continue }
          for run in torchRuns {
            let k = key(s, t, run)
            let c = s.config
            let request: [String: Any] = [
              "run": run == "pytorch-fp32" ? "fp32" : "torchao-fp8", "vocab": c.vocab, "seq": c.maxSeq, "d": c.d,
              "heads": c.heads, "layers": c.layers, "micro_batch": s.microBatch, "accumulation": s.accumulation,
              "threads": t, "steps": steps, "warmup": warmedTorch.insert(k).inserted ? 1 : 0,
            ]
            do {
              settle(t)
              let (wall, cpu) = try torch.measure(request)
              perRound[k, default: []].append(median(wall))
              perRoundCPU[k, default: []].append(median(cpu))
            } catch {
              FileHandle.standardError.write(Data("note: \(run) left out: \(error)\n".utf8))
              torchRuns.removeAll { $0 == run }
            }
          }
        }
      }
    }

    var rows: [Row] = []
    for s in setups {
      for t in threadCounts {
        let names = ours.map { $0.isFP8 ? "ours-\($0.rawValue)-\(gpu)" : "ours-\($0.rawValue)" } + torchRuns
        var block: [Row] = []
        for n in names {
          guard let times = perRound[key(s, t, n)], times.count == rounds else { continue }
          let sec = median(times), cpu = median(perRoundCPU[key(s, t, n)] ?? [])
          let tps = Double(s.tokensPerStep) / sec
          block.append(Row(model: s.size.rawValue, threads: t, run: n, tokensPerStep: s.tokensPerStep, medianStepSeconds: sec,
                           tokensPerSecond: tps, gflops: tps * s.config.trainingFLOPsPerToken(seq: s.config.maxSeq) * 1e-9,
                           medianStepCPUSeconds: cpu, tokensPerCPUSecond: Double(s.tokensPerStep) / cpu))
        }
        if let base = block.first(where: { $0.run == "pytorch-fp32" }) {
          for i in block.indices {
            block[i].vsPyTorchFP32 = block[i].tokensPerSecond / base.tokensPerSecond
            block[i].cpuVsPyTorchFP32 = block[i].tokensPerCPUSecond / base.tokensPerCPUSecond
          }
        }
        rows += block
      }
    }
    if json {
      for r in rows { try JSONLines.print(r) }
      return
    }
    if let torch {
      print("PyTorch \(torch.torchVersion)" + (torch.torchaoVersion.map { ", torchao \($0)" } ?? ", torchao not importable"))
    }
    print("medians of \(rounds) interleaved rounds, \(steps) timed steps each; wordchain task")
    print("| model | threads | run | tokens/step | tokens/s | GFLOP/s | vs PyTorch FP32 | tokens/CPU-s | vs PyTorch FP32 (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows {
      let vs = r.vsPyTorchFP32.map { String(format: "%.2f×", $0) } ?? "-"
      let cvs = r.cpuVsPyTorchFP32.map { String(format: "%.2f×", $0) } ?? "-"
      print("| \(r.model) | \(r.threads) | \(r.run) | \(r.tokensPerStep) | " + String(format: "%.0f | %.1f | ", r.tokensPerSecond, r.gflops) + vs
            + String(format: " | %.0f | ", r.tokensPerCPUSecond) + cvs + " |")
    }
  }
}
