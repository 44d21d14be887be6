#!/usr/bin/env python3
"""A bounded random fuzzer over the command lines of fp8emu and fp8-bench.

Usage: fuzz_cli.py BIN_DIR [--seed N] [--runs N] [--seconds S] [--timeout S]

Reads every subcommand's options from its --help (so new options are fuzzed without editing
this file), then runs random command lines: options picked at random, repeated or left out,
with values drawn from numbers at and beyond every sensible range (0, -1, 2^31, 2^63, NaN, Inf,
1e-45), names right and wrong, empty and very long strings, bytes that are not UTF-8, and paths
that are fixtures, directories, devices, named pipes, missing files or the inputs themselves.
A run that outlives --timeout gets SIGTERM, as a user's Ctrl-C would.

Each run must: not trap (SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, "Fatal error"),
exit with 0, 1, 64, 65, 66, 73 or 74 (or die of our SIGTERM), print no raw error dump, put
exactly one line on stderr when it fails (usage text may follow a usage error; warnings may
precede), leave no temporary file, create no file when it fails, and change no fixture when it
fails. The same seed gives the same command lines. Exit status 1 on any failure, with each
failing command line printed for replay.
"""
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_cli import DUMPS, TRAPS, make_fixtures  # noqa: E402

ALLOWED = {0, 1, 64, 65, 66, 73, 74}
# Command lines that work (and finish in about a second): most runs mutate one of these in one
# to three places, so that a single hostile value reaches the code behind validation. {fx}/ is
# the fixtures' folder.
BASES = {
    "train": "--recipe fp32 --steps 2 --micro-batch 2 --grad-accumulation 1 --eval-every 0 --width 16 --layers 1 "
             "--heads 2 --quiet",
    "deploy": "--steps 2 --calibration 4 --digits 1 --quiet",
    "convert": "--from f32 --to e4m3 {fx}/w.f32 --out out.e4m3",
    "dequant": "{fx}/fp8.safetensors --out out.safetensors",
    "quantize": "{fx}/model.safetensors --recipe block128 --out out.safetensors",
    "copy": "{fx}/model.safetensors --out out.safetensors",
    "export": "{fx}/model.safetensors --tensor x.bias --out out.npy",
    "import": "x={fx}/a.npy --out out.safetensors",
    "gemm": "--a {fx}/a.npy --b {fx}/b.npy --out d.npy",
    "inspect": "{fx}/fp8.safetensors",
    "verify": "--sources f16",
    "validate": "--vectors {fx}/adir",
    "info": "",
    "bench io": "--size-mib 1 --reps 1 --dir .",
    "bench convert": "--n 1024 --reps 1 --large-mib 1 --no-python",
    "bench gemm": "--quick --reps 1 --no-openblas",
    "bench tensorcore": "--sizes 16 --repeats 1",
    "bench int8": "--quick --reps 1",
    "bench train": "--steps 1 --recipes fp32",
}
# commands that run for minutes by design are fuzzed less often (most runs end at validation)
WEIGHTS = {"verify": 0.2, "validate": 0.5, "info": 0.3, "help": 0.2, "deploy": 0.3}
BENCH_WEIGHT = 0.15


STOP = {"default", "the", "of", "or", "and", "a", "an", "in", "to", "for", "with", "only", "is", "are", "be", "by",
        "from", "this", "each", "per", "all", "at", "as", "its", "it", "not", "no", "when", "else", "then", "instead"}


def parse_help(text):
    """From a --help text: options (name -> whether it takes a value), positional arguments
    (name, repeated), the options the usage line requires, and per option the words its help
    mentions (candidate values: "rne | rz | stochastic") and its default."""
    options, positionals, words, defaults = {}, [], {}, {}
    usage = re.search(r"USAGE: (.*?)\n\n", text, re.S)
    usage_line = re.sub(r"\[[^\]]*\]", "", usage.group(1)) if usage else ""
    required = set(re.findall(r"(--[a-z0-9-]+)", usage_line))
    section, current = None, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+:", line) and not line.startswith(" "):
            section, current = line.split(":")[0], None
            continue
        m = re.match(r"^\s{2}(?:-\w, )?(--[a-z0-9][a-z0-9-]*)(?: <([^>]+)>)?(.*)", line)
        if section == "OPTIONS" and m:
            current = m.group(1)
            if current in ("--help", "--version"):
                current = None
                continue
            options[current] = m.group(2) is not None
            words[current] = m.group(3)
            continue
        p = re.match(r"^\s{2}<([a-z0-9-]+)>(\.\.\.)?", line)
        if section == "ARGUMENTS" and p:
            positionals.append((p.group(1), p.group(2) is not None))
            current = None
            continue
        if current and line.startswith("    "):
            words[current] += " " + line.strip()
    for name, help_text in words.items():
        d = re.search(r"\(default:\s*([^)]*)\)", help_text)
        defaults[name] = d.group(1).strip() if d else None
        words[name] = sorted(set(re.findall(r"(?<![\w-])([a-z][a-z0-9_]*(?:[-=@.][a-z0-9_]+)*)(?![\w-])", help_text)) - STOP)
    return options, positionals, required, words, defaults


def subcommands(exe):
    text = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, text=True).stdout
    names, inside = [], False
    for line in text.splitlines():
        if line.strip() == "SUBCOMMANDS:":
            inside = True
            continue
        m = re.match(r"^\s{2}([a-z0-9-]+)\b", line)
        if inside and m:
            names.append(m.group(1))
        elif inside and line and not line.startswith(" "):
            inside = False
    return names


class Fuzzer:
    def __init__(self, bin_dir, work, seed, timeout):
        self.rng = random.Random(seed)
        self.work, self.timeout = work, timeout
        self.fx = os.path.join(work, "fx")
        make_fixtures(self.fx)
        self.surface = []  # (exe, subcommand, options, positionals, required, words, defaults)
        for exe in (os.path.join(bin_dir, "fp8emu"), os.path.join(bin_dir, "fp8-bench")):
            for sub in subcommands(exe):
                text = subprocess.run([exe, sub, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True).stdout
                self.surface.append((exe, sub) + parse_help(text))
        f = lambda n: os.path.join(self.fx, n)  # noqa: E731
        self.paths = [f(n) for n in sorted(os.listdir(self.fx))] + [
            "out", "out.safetensors", "out.npy", "o/", "", ".", "/", "/dev/null", "/dev/zero", "/proc/self/mem",
            "missing/deeper/x", os.path.join(self.fx, "missing"), f("fp8.safetensors") + "/x", "-", "x" * 300]
        self.values = ["0", "1", "2", "3", "-1", "-0", "7", "64", "128", "100000", "2147483648", "9223372036854775807",
                       "9223372036854775808", "-9223372036854775809", "nan", "-nan", "inf", "-inf", "1e-45", "1e308",
                       "0.5", "1.5", "0x10", "", " ", "bogus", "on", "off", "none", "head", "block0.qkv,head",
                       "fp32", "fp32,delayed", "delayed@h100-fast", "bf16", "e4m3", "e5m2", "f32", "f16", "e8m0",
                       "rne", "rz", "stochastic", "up", "scalar", "avx2", "avx512", "neon", "auto", "h100", "b200",
                       "a100", "ideal", "promoted", "promoted=4", "promoted=0", "fast", "exact", "per-tensor",
                       "per-channel", "block128", "mxfp8", "deepseek-v3", "ocp", "round-up", "cuda-satfinite",
                       "pytorch", "wordchain", "addition", "max", "most_recent", "1G", "1M", "16", "x.weight",
                       "x.bias", "x=" + f("a.npy"), "--json", "é\u202e", "a\x1b[31m", "∞", "x" * 5000]

    INTS = ["0", "1", "2", "3", "-1", "7", "16", "64", "100000", "2147483648", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809"]
    FLOATS = ["0", "1", "0.5", "-1", "1e-45", "1e308", "nan", "-nan", "inf", "-inf", "3e-3", "2"]

    def value(self, name, words, default):
        """Mostly values of the option's own kind (its default's type, the words of its help),
        often out of range; sometimes anything at all."""
        r = self.rng.random()
        if r < 0.06:
            return b"w\xffx" if self.rng.random() < 0.5 else b"\xc3\x28"
        if r < 0.2:
            return self.rng.choice(self.values + self.paths)
        pathlike = any(k in name for k in ("out", "file", "checkpoint", "resume", "log", "svg", "curves", "text",
                                            "vectors", "weights", "input", "output", "dir", "--a", "--b", "--c", "arrays"))
        if pathlike:
            return self.rng.choice(self.paths)
        if default is not None and re.fullmatch(r"-?\d+", default):
            return self.rng.choice(self.INTS + [default] * 3)
        if default is not None and re.fullmatch(r"-?[\d.]+(e-?\d+)?", default):
            return self.rng.choice(self.FLOATS + [default] * 3)
        if words and self.rng.random() < 0.7:
            w = self.rng.choice(words)
            if self.rng.random() < 0.2:  # a list of them, as --compare and --high-precision take
                w = ",".join(self.rng.sample(words, min(len(words), self.rng.choice([2, 3]))))
            return w
        return self.rng.choice(self.values)

    def command(self):
        if self.rng.random() < 0.7:
            return self.mutated()
        return self.random_command()

    def mutated(self):
        """A working command line changed in one to three places: an option set to a value of its
        own kind or a hostile one, an argument dropped, or an option given twice."""
        keys = sorted(BASES)
        key = self.rng.choices(keys, [WEIGHTS.get(k, BENCH_WEIGHT if k.startswith("bench") else 1.0) for k in keys])[0]
        bench = key.startswith("bench ")
        sub = key.split()[-1]
        entry = next((e for e in self.surface if e[1] == sub and e[0].endswith("fp8-bench") == bench), None)
        if entry is None:
            return self.random_command()
        exe, _, options, _, _, words, defaults = entry
        argv = BASES[key].replace("{fx}", self.fx).split()
        for _ in range(self.rng.choice([1, 1, 2, 3])):
            r = self.rng.random()
            if r < 0.7 and options:
                name = self.rng.choice(sorted(options))
                value = self.value(name, words.get(name, []), defaults.get(name)) if options[name] else None
                if name in argv and options[name] and argv.index(name) + 1 < len(argv) and self.rng.random() < 0.8:
                    argv[argv.index(name) + 1] = value
                else:
                    argv += [name] + ([value] if value is not None else [])
            elif r < 0.85 and argv:
                del argv[self.rng.randrange(len(argv))]
            else:
                argv.append(self.value("--" + self.rng.choice(["out", "file", "x"]), [], None))
        return [exe, sub] + argv

    def random_command(self):
        choices = list(self.surface)
        weights = [WEIGHTS.get(s[1], BENCH_WEIGHT if s[0].endswith("fp8-bench") else 1.0) for s in choices]
        exe, sub, options, positionals, required, words, defaults = self.rng.choices(choices, weights)[0]
        argv = [exe, sub]
        picked = [n for n in sorted(required) if n in options and self.rng.random() < 0.95]
        names = list(options)
        extra = [n for n in names if n not in picked]
        picked += self.rng.sample(extra, min(len(extra), self.rng.choice([0, 1, 2, 3, 3, 4, 6])))
        if picked and self.rng.random() < 0.1:
            picked.append(self.rng.choice(picked))  # an option given twice
        self.rng.shuffle(picked)
        for name in picked:
            argv.append(name)
            if options[name]:
                argv.append(self.value(name, words.get(name, []), defaults.get(name)))
        for pname, repeated in positionals:
            count = self.rng.choice([1, 1, 1, 0, 2, 3]) if repeated else self.rng.choice([1, 1, 1, 1, 1, 0])
            for _ in range(count):
                argv.append(self.value("--" + pname, [], None))
        if self.rng.random() < 0.04:
            argv.append(self.rng.choice(["--bogus", "extra", "--", "-h"]))
        return argv

    def snapshot(self):
        out = {}
        for n in os.listdir(self.fx):
            p = os.path.join(self.fx, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    out[n] = fh.read()
            else:
                out[n] = os.lstat(p).st_mode
        return out

    def run_one(self, argv, scratch):
        start = time.time()
        p = subprocess.Popen(argv, cwd=scratch, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed = False
        try:
            out, err = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
            killed = True
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
        return p.returncode, out, err, killed, time.time() - start

    def check(self, argv, rc, out, err, killed, new_files, fixtures_changed):
        problems = []
        if rc < 0 and -rc in TRAPS:
            problems.append(f"trapped with signal {-rc}")
        elif not (rc in ALLOWED or (killed and rc == -signal.SIGTERM)):
            problems.append(f"exit {rc}")
        text = (out + err).decode("utf-8", "replace")
        for d in DUMPS:
            if d in text:
                problems.append(f"output contains {d!r}")
        lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
        if rc not in (0,) and rc > 0:
            errors = [l for l in lines if not l.lower().startswith("warning:")]
            if not errors:
                problems.append("failed without a message")
            elif rc != 64 and len(errors) != 1:
                problems.append(f"{len(errors)} lines on stderr: {errors[:3]}")
            elif rc == 64 and not errors[0].startswith("Error:"):
                problems.append(f"usage error not starting with 'Error:': {errors[0]!r}")
        temps = [n for n in new_files if re.match(r"^\..*\.tmp$", os.fsdecode(n)) or ".tmp-" in os.fsdecode(n)]
        if temps:
            problems.append(f"left temporary files {temps}")
        if rc != 0 and not killed and new_files:
            problems.append(f"failed but created {new_files}")
        if rc != 0 and fixtures_changed:
            problems.append(f"failed but changed fixtures {fixtures_changed}")
        return problems


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2

    def opt(name, default):
        return type(default)(args[args.index(name) + 1]) if name in args else default

    seed, runs, seconds, timeout = opt("--seed", 1), opt("--runs", 300), opt("--seconds", 120.0), opt("--timeout", 4.0)
    work = tempfile.mkdtemp(prefix="fp8emu-fuzz-")
    failures, done, outcomes = [], 0, {}
    start = time.time()
    try:
        fz = Fuzzer(os.path.abspath(args[0]), work, seed, timeout)
        fixtures = fz.snapshot()
        scratch = os.path.join(work, "run")
        for k in range(runs):
            if time.time() - start > seconds:
                break
            argv = fz.command()
            if "--print" in args:
                print(" ".join(shlex.quote(os.fsdecode(a)) for a in argv[1:]))
            shutil.rmtree(scratch, ignore_errors=True)
            os.makedirs(scratch)
            rc, out, err, killed, secs = fz.run_one(argv, scratch)
            new_files = sorted(os.listdir(os.fsencode(scratch)))
            now = fz.snapshot()
            changed = sorted(n for n in set(fixtures) | set(now) if fixtures.get(n) != now.get(n))
            problems = fz.check(argv, rc, out, err, killed, new_files, changed)
            if changed:  # restore, so that later runs see the same fixtures
                shutil.rmtree(fz.fx)
                make_fixtures(fz.fx)
            done += 1
            key = "SIGTERM (timeout)" if killed else str(rc)
            outcomes[key] = outcomes.get(key, 0) + 1
            if problems:
                line = " ".join(shlex.quote(os.fsdecode(a)) for a in argv)
                failures.append(f"run {k}: {line}\n    " + "; ".join(problems))
                print(f"FAIL run {k}: {line}\n    " + "; ".join(problems), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = ", ".join(f"{v}× {k}" for k, v in sorted(outcomes.items()))
    print(f"CLI fuzz (seed {seed}): {done} runs in {time.time() - start:.0f} s, {len(failures)} failed; exits: {summary}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
