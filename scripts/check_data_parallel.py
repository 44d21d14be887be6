#!/usr/bin/env python3
"""Data-parallel training under Open MPI, end to end (docs/data-parallel.md).

Usage: check_data_parallel.py PATH/TO/fp8emu [--convergence]

Checkpoints are read with the PyPI `safetensors` package (never with our code). Checks:
  * the FP32 exchange: N = 2 and N = 4 ranks end with the same state as one process, bit for bit
    (every tensor: masters, AdamW moments, amax histories; and the scalar state), for the delayed
    recipe (its amaxes are max-reduced across ranks);
  * an FP8 exchange gives the same bits twice for the same N;
  * --resume with a different N: 2 steps on 2 ranks, then 2 more on 4 ranks from the checkpoint,
    equal the 4 steps of one process;
  * killing one rank mid-run ends the job within a bounded time, with mpirun's report and one
    line from the surviving rank, and leaves a checkpoint that loads and resumes;
  * the E5M2 and E4M3-blockwise exchanges on 2 ranks end within 1% of the FP32 exchange's
    held-out loss: on a small model (d 16, 1 block, 100 steps of the default task) in about a
    minute; with --convergence, the default model and run (300 steps: a release build, minutes).
Prints one line per check and ends with "N passed, M failed"; exits 1 on a failure.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from safetensors import deserialize, safe_open

FP8EMU = sys.argv[1]
ROOT_FLAGS = ["--allow-run-as-root"] if os.geteuid() == 0 else []
TINY = ["--recipe", "delayed", "--micro-batch", "2", "--accumulation", "4", "--width", "16", "--layers", "1",
        "--heads", "2", "--quiet", "--eval-every", "0"]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if ok:
        passed += 1
    else:
        failed += 1


def mpirun(n, args, **kw):
    cmd = ["mpirun", *ROOT_FLAGS, "--oversubscribe", "-np", str(n), FP8EMU, "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def single(args):
    return subprocess.run([FP8EMU, "train", *args], capture_output=True, text=True)


def state(path):
    """Every tensor's bytes and the parsed scalar state of a checkpoint."""
    with open(path, "rb") as f:
        tensors = {name: (t["dtype"], t["shape"], bytes(t["data"])) for name, t in deserialize(f.read())}
    with safe_open(path, framework="numpy") as f:
        meta = json.loads(f.metadata()["fp8emu.state"])
    return tensors, meta


def same_state(a, b):
    ta, ma = state(a)
    tb, mb = state(b)
    diff = sorted(k for k in ta.keys() | tb.keys() if ta.get(k) != tb.get(k))
    if ma != mb:
        diff.append("scalar state")
    return diff


def rank_pids(rank):
    """PIDs of fp8emu processes that mpirun started as `rank`."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if FP8EMU.encode() in cmd and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            out.append(int(pid))
    return out


with tempfile.TemporaryDirectory() as tmp:
    p = lambda name: os.path.join(tmp, name)

    # Bit-identity for N = 1, 2, 4 (FP32 exchange).
    r = single([*TINY, "--steps", "3", "--save-checkpoint", p("n1.safetensors")])
    check("one process trains", r.returncode == 0, r.stderr[-500:])
    for n in (2, 4):
        r = mpirun(n, [*TINY, "--steps", "3", "--save-checkpoint", p(f"n{n}.safetensors")])
        ok = r.returncode == 0 and os.path.exists(p(f"n{n}.safetensors"))
        check(f"{n} ranks train", ok, r.stderr[-800:])
        if ok:
            d = same_state(p("n1.safetensors"), p(f"n{n}.safetensors"))
            check(f"{n} ranks, FP32 exchange: the state equals one process's bit for bit", not d, ", ".join(d[:5]))

    # FP8 exchange: the same bits twice.
    for run in ("a", "b"):
        mpirun(2, [*TINY, "--steps", "3", "--exchange", "e5m2", "--save-checkpoint", p(f"e5m2{run}.safetensors")])
    if os.path.exists(p("e5m2a.safetensors")) and os.path.exists(p("e5m2b.safetensors")):
        d = same_state(p("e5m2a.safetensors"), p("e5m2b.safetensors"))
        check("2 ranks, E5M2 exchange: two runs give the same bits", not d, ", ".join(d[:5]))
        check("the E5M2 exchange rounds (differs from FP32)", bool(same_state(p("e5m2a.safetensors"), p("n2.safetensors"))))
    else:
        check("2 ranks, E5M2 exchange runs", False)

    # Resume with another N.
    single([*TINY, "--steps", "4", "--save-checkpoint", p("straight.safetensors")])
    mpirun(2, [*TINY, "--steps", "2", "--save-checkpoint", p("half.safetensors")])
    r = mpirun(4, [*TINY, "--steps", "4", "--resume", p("half.safetensors"), "--save-checkpoint", p("resumed.safetensors")])
    if r.returncode == 0:
        d = same_state(p("straight.safetensors"), p("resumed.safetensors"))
        check("2 steps on 2 ranks + 2 on 4 ranks (--resume) equal 4 steps of one process", not d, ", ".join(d[:5]))
    else:
        check("resume on 4 ranks", False, r.stderr[-800:])

    # Kill a rank mid-run.
    ck = p("killed.safetensors")
    cmd = ["mpirun", *ROOT_FLAGS, "--oversubscribe", "-np", "2", FP8EMU, "train", *TINY, "--steps", "100000",
           "--checkpoint-every", "1", "--save-checkpoint", ck]
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not os.path.exists(ck) and time.time() < deadline and job.poll() is None:
        time.sleep(0.2)
    time.sleep(1)  # a few more steps, so that the kill may land during a write
    victims = rank_pids(1)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    try:
        out, _ = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        out, _ = job.communicate()
    elapsed = time.time() - killed_at
    check("rank 1 was found and killed", len(victims) == 1, str(victims))
    check(f"the job ended {elapsed:.1f} s after the kill (bound: 30 s) with a non-zero status",
          job.returncode not in (0, None) and elapsed < 30, f"status {job.returncode}")
    check("mpirun reports the killed rank", "exited on signal 9" in out, out[-800:])
    check("the surviving rank says why it stops", "fp8emu: rank 0/2" in out and "stopped by SIGTERM" in out, out[-800:])
    try:
        tensors, meta = state(ck)
        check(f"the last checkpoint is whole (step {meta['step']})", meta["step"] >= 1 and len(tensors) > 0)
        r = single([*TINY, "--steps", str(meta["step"] + 1), "--resume", ck])
        check("it resumes", r.returncode == 0, r.stderr[-500:])
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        check("the last checkpoint is whole", False, repr(e))

    full = "--convergence" in sys.argv
    small = [] if full else ["--micro-batch", "4", "--accumulation", "4", "--width", "16", "--layers", "1", "--heads", "2",
                             "--steps", "100", "--warmup", "10"]
    loss = {}
    for ex in ("fp32", "e5m2", "e4m3-blockwise"):
        r = mpirun(2, ["--recipe", "delayed", "--quiet", "--json", "--eval-every", "0", "--exchange", ex, *small])
        loss[ex] = json.loads(r.stdout.strip().splitlines()[-1])["held_out_loss"] if r.returncode == 0 else None
    for ex in ("e5m2", "e4m3-blockwise"):
        ok = loss["fp32"] and loss[ex] and abs(loss[ex] / loss["fp32"] - 1) < 0.01
        rel = f"{100 * (loss[ex] / loss['fp32'] - 1):+.3f}%" if ok else str(loss)
        check(f"{ex} exchange: held-out loss {loss[ex]:.4f} within 1% of the FP32 exchange's {loss['fp32']:.4f} ({rel}, "
              f"{'default model' if full else 'small model'})" if ok else f"{ex} exchange within 1% of FP32's", bool(ok), rel)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
