#!/usr/bin/env python3
"""The command lines of fp8emu and fp8-bench, used the way an adversary or a careless user would.

Usage: hostile_cli.py BIN_DIR [--only TEXT] [--keep]

BIN_DIR holds the built fp8emu and fp8-bench. Every case runs the real binaries and asserts
  * the exit status (sysexits: 64 usage, 65 bad data, 66 missing input, 73 cannot create the
    output, 74 I/O error, 1 otherwise; 128+n, seen here as -n, for a run we interrupted),
  * no trap (Fatal error, SIGILL/SIGTRAP/SIGSEGV/SIGBUS/SIGABRT) and no raw error dump,
  * exactly one clear line on stderr for a failure (usage text only after a usage error),
  * that files which must not change are byte-identical afterwards,
  * that no temporary or partial file is left in the folders involved,
  * where a case says so, the peak resident memory of the run.
Classes: outputs (directories, special files, symbolic links, inputs, the empty path, missing
and read-only folders), a full disk (a 1 MiB tmpfs), interrupted runs (SIGINT/SIGTERM while
the temporary file exists), hostile sizes under memory limits (RLIMIT_AS), nonsense options,
conventions (--version, JSON keys, deprecated spellings, escaping of names from files,
non-UTF-8 file names) and results that must not look perfect when they are not.
The full-disk and read-only cases mount tmpfs and need root; without it they are reported as
SKIP (never as PASS). Uses only the Python standard library.
"""
import errno
import json
import os
import re
import resource
import signal
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

TRAPS = {signal.SIGILL, signal.SIGTRAP, signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE}
DUMPS = ["Fatal error", "Stack dump", "Current stack trace", "NSCocoaErrorDomain", "Error Domain=", "errno",
         "Foundation.", "(status ", "Swift/", "💣"]
TRAIN_FAST = ["--steps", "2", "--micro-batch", "2", "--grad-accumulation", "1", "--eval-every", "0", "--width", "16",
              "--layers", "1", "--heads", "2", "--quiet"]


class Result:
    def __init__(self, argv, rc, out, err, maxrss_kb, seconds):
        self.argv, self.rc, self.out, self.err, self.maxrss_kb, self.seconds = argv, rc, out, err, maxrss_kb, seconds

    @property
    def err_text(self):
        return self.err.decode("utf-8", "replace")

    @property
    def out_text(self):
        return self.out.decode("utf-8", "replace")

    def err_lines(self):
        return [l for l in self.err_text.splitlines() if l.strip()]


def run(argv, cwd=None, limit_as=None, timeout=120, interrupt=None, env=None):
    """Runs argv; `interrupt` = (signal, watch_dir): sends the signal once a new file appears there."""
    def limits():
        # The child starts with the default dispositions, whatever this suite inherited: a suite
        # run under nohup, or as a background job of a script, has SIGHUP or SIGINT ignored, and an
        # ignored signal stays ignored across exec (the behaviour the interrupt cases rely on).
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
    before = set(os.listdir(interrupt[1])) if interrupt else None
    start = time.time()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=limits, env=env)
    if interrupt:
        sig, watch = interrupt
        while p.poll() is None and time.time() - start < timeout:
            if set(os.listdir(watch)) - before:
                time.sleep(0.02)
                p.send_signal(sig)
                break
            time.sleep(0.002)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return Result(argv, p.returncode, out, err, 0, time.time() - start)  # peak memory: see measured()


def measured(argv, cwd=None, limit_as=None, timeout=300):
    """Runs argv in a fresh child whose own peak RSS is reported (RUSAGE_CHILDREN is cumulative)."""
    code = ("import os,resource,subprocess,sys,json\n"
            "a=json.loads(sys.argv[1]); l=int(sys.argv[2])\n"
            "def f():\n  resource.setrlimit(resource.RLIMIT_AS,(l,l)) if l else None\n"
            "p=subprocess.Popen(a,stdin=subprocess.DEVNULL,stdout=subprocess.PIPE,stderr=subprocess.PIPE,preexec_fn=f)\n"
            "o,e=p.communicate()\n"
            "sys.stdout.buffer.write(json.dumps([p.returncode,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
            "o.decode('latin1'),e.decode('latin1')]).encode())\n")
    start = time.time()
    p = subprocess.run([sys.executable, "-c", code, json.dumps(argv), str(limit_as or 0)], cwd=cwd,
                       stdout=subprocess.PIPE, timeout=timeout)
    rc, rss, out, err = json.loads(p.stdout)
    return Result(argv, rc, out.encode("latin1"), err.encode("latin1"), rss, time.time() - start)


# ---------------------------------------------------------------------------------------------
# fixtures, written here from the format definitions (no fp8emu involved)

def safetensors_bytes(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes) in file order."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


def npy_bytes(values, shape, descr="<f4"):
    fmt = {"<f4": "f", "|u1": "B"}[descr]
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join(f"{s}, " for s in shape)
                                                                       if len(shape) > 1 else f"{shape[0]},")
    header = d + " " * (-(10 + len(d) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack(f"<{len(values)}{fmt}", *values)


def bf16(x):
    return struct.pack("<f", x)[2:]


def make_fixtures(fx):
    os.makedirs(fx, exist_ok=True)
    rng = 12345

    def rand():
        nonlocal rng
        rng = (rng * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        return ((rng >> 33) / 2**31) * 2 - 1

    w = [rand() * 300 for _ in range(4096)]
    files = {
        "w.f32": struct.pack("<4096f", *w),
        "w.e4m3": bytes((i * 37) % 0x7E for i in range(4096)),
        "odd.f32": b"\x00" * 4097,
        "empty.f32": b"",
        "model.safetensors": safetensors_bytes([
            ("x.weight", "BF16", [64, 256], b"".join(bf16(rand()) for _ in range(64 * 256))),
            ("x.bias", "F32", [64], struct.pack("<64f", *[rand() for _ in range(64)])),
            ("norm.weight", "F32", [64], struct.pack("<64f", *[1.0] * 64)),
        ], {"format": "pt"}),
        "fp8.safetensors": safetensors_bytes([
            ("x.weight", "F8_E4M3", [64, 256], bytes((i * 13) % 0x7E for i in range(64 * 256))),
            ("x.weight_scale_inv", "F32", [1, 2], struct.pack("<2f", 0.01, 0.02)),
        ]),
        # a stale scale beside a wide weight: re-quantising must replace it, never add a second
        "stale.safetensors": safetensors_bytes([
            ("x.weight", "BF16", [2, 64], b"".join(bf16(3.85 * ((i % 7) - 3) / 3) for i in range(128))),
            ("x.weight_scale_inv", "F32", [1, 1], struct.pack("<f", 1000.0)),
        ]),
        "twoscales.safetensors": safetensors_bytes([
            ("x.weight", "F8_E4M3", [1, 4], bytes([0x38] * 4)),
            ("x.weight_scale", "F32", [1], struct.pack("<f", 2.0)),
            ("x.weight_scale_inv", "F32", [1], struct.pack("<f", 1000.0)),
        ]),
        "noweights.safetensors": safetensors_bytes([("norm", "F32", [4], struct.pack("<4f", 1, 2, 3, 4))]),
        "escape.safetensors": safetensors_bytes(
            [("a\x1b[31mred\x07", "F32", [1], struct.pack("<f", 1.0))], {"note\x1b]0;pwned\x07": "\x1b[2J\x9b"}),
        "truncated.safetensors": safetensors_bytes([("x", "F32", [4], b"\x00" * 16)])[:-3],
        "hugeshape.safetensors": safetensors_bytes([("x", "F32", [1 << 40, 1 << 20], b"\x00" * 16)]),
        "a.npy": npy_bytes([float((i % 9) - 4) for i in range(8 * 32)], [8, 32]),
        "b.npy": npy_bytes([float((i % 5) - 2) / 2 for i in range(32 * 16)], [32, 16]),
        "b_bad.npy": npy_bytes([0.0] * (16 * 16), [16, 16]),
        "a_nan.npy": npy_bytes([float("nan") if i == 5 else 1.0 for i in range(8 * 32)], [8, 32]),
        "c_nan.npy": npy_bytes([float("nan") if i == 3 else 0.0 for i in range(8 * 16)], [8, 16]),
        "tall.npy": npy_bytes([1.0] * 40000, [40000, 1]),
        "wide.npy": npy_bytes([1.0] * 100000, [1, 100000]),
        "hugeshape.npy": npy_bytes([0.0] * 4, [2]).replace(b"(2,)", b"(100000, 100000)"),
        "bad.npy": b"\x93NUMPY\x09\x00garbage",
        "nonutf8.txt": b"abc\xff\xfe\xfd" * 400,
        "short.txt": b"ab",
        "empty.txt": b"",
    }
    for name, data in files.items():
        with open(os.path.join(fx, name), "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(fx, "adir"), exist_ok=True)
    os.mkfifo(os.path.join(fx, "fifo"))


def big_fixtures(fx, mib):
    """Sparse files of `mib` MiB: raw F32, and safetensors with one tensor of that size (FP8 with
    a per-tensor scale, BF16), larger than the memory limits the streaming cases run under."""
    n = mib << 20
    with open(os.path.join(fx, "big.f32"), "wb") as f:
        f.truncate(n)
    cols = 8192
    for name, dtype, elem in (("bigfp8.safetensors", "F8_E4M3", 1), ("bigbf16.safetensors", "BF16", 2)):
        rows = n // cols // elem
        size = rows * cols * elem
        header = {"x.weight": {"dtype": dtype, "shape": [rows, cols], "data_offsets": [0, size]}}
        tail = b""
        if dtype == "F8_E4M3":
            header["x.weight_scale_inv"] = {"dtype": "F32", "shape": [1], "data_offsets": [size, size + 4]}
            tail = struct.pack("<f", 1.0)
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        with open(os.path.join(fx, name), "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h)
            f.truncate(8 + len(h) + size)
            f.seek(0, 2)
            f.write(tail)


# ---------------------------------------------------------------------------------------------

class Suite:
    def __init__(self, bin_dir, work, only):
        self.emu = os.path.join(bin_dir, "fp8emu")
        self.bench = os.path.join(bin_dir, "fp8-bench")
        self.work, self.only = work, only
        self.fx = os.path.join(work, "fx")
        self.passed, self.failed, self.skipped = 0, [], []
        self.current = ""
        self.root = os.geteuid() == 0
        self.mounts = []

    # -- helpers
    def scratch(self, name):
        d = os.path.join(self.work, "s", re.sub(r"[^A-Za-z0-9_.-]", "_", name))
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def fixture(self, name):
        return os.path.join(self.fx, name)

    def snapshot(self, d):
        out = {}
        for root, dirs, files in os.walk(d):
            for f in files + [x for x in dirs if os.path.islink(os.path.join(root, x))]:
                p = os.path.join(root, f)
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as fh:
                        out[p] = fh.read()
                else:
                    out[p] = ("special", stat.S_IFMT(st.st_mode), os.readlink(p) if stat.S_ISLNK(st.st_mode) else None)
        return out

    def tmpfs(self, size, readonly=False):
        d = tempfile.mkdtemp(dir=self.work, prefix="tmpfs-")
        opts = f"size={size}" + (",ro" if readonly else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", d], check=True)
        self.mounts.append(d)
        return d

    @staticmethod
    def fill(disk, nbytes):
        """Writes up to nbytes into disk/filler; the write that no longer fits is the point."""
        with open(os.path.join(disk, "filler"), "wb") as fh:
            try:
                fh.write(b"\xAA" * nbytes)
            except OSError:
                pass

    def unmount_all(self):
        for d in reversed(self.mounts):
            subprocess.run(["umount", d], check=False)
        self.mounts = []

    def remove_big_fixtures(self):
        for name in ("big.f32", "bigfp8.safetensors", "bigbf16.safetensors"):
            if os.path.exists(self.fixture(name)):
                os.unlink(self.fixture(name))

    def ok(self, what):
        self.passed += 1
        print(f"PASS {self.current}: {what}")

    def fail(self, what):
        self.failed.append(f"{self.current}: {what}")
        print(f"FAIL {self.current}: {what}")

    def skip(self, what):
        self.skipped.append(f"{self.current}: {what}")
        print(f"SKIP {self.current}: {what}")

    def check(self, cond, what):
        (self.ok if cond else self.fail)(what)
        return cond

    def expect(self, r, code, lines=None, mentions=(), forbid_out=(), maxrss_mb=None, what=""):
        """Exit status, no trap or dump, one stderr line for a failure, and named words."""
        label = what or " ".join(os.fsdecode(a) if isinstance(a, bytes) else a for a in r.argv[1:])[:110]
        problems = []
        if r.rc < 0 and -r.rc in TRAPS:
            problems.append(f"trapped with signal {-r.rc}")
        codes = code if isinstance(code, (set, tuple, list)) else {code}
        if r.rc not in codes:
            problems.append(f"exit {r.rc}, expected {sorted(codes)}")
        for d in DUMPS:
            if d in r.err_text or d in r.out_text:
                problems.append(f"output contains {d!r}")
        errs = r.err_lines()
        if r.rc not in (0, 64) and r.rc > 0:
            want = 1 if lines is None else lines
            if len(errs) != want:
                problems.append(f"{len(errs)} stderr lines, expected {want}: {errs[:4]}")
        if r.rc == 64 and (not errs or not errs[0].startswith("Error:")):
            problems.append(f"a usage error must start with 'Error:': {errs[:2]}")
        for m in mentions:
            if m not in r.err_text:
                problems.append(f"stderr does not mention {m!r}: {errs[:2]}")
        for f in forbid_out:
            if f in r.out or f in r.err:
                problems.append(f"output contains {f!r}")
        if maxrss_mb is not None and r.maxrss_kb > maxrss_mb * 1024:
            problems.append(f"peak memory {r.maxrss_kb // 1024} MiB above {maxrss_mb} MiB")
        if problems:
            self.fail(f"{label}: " + "; ".join(problems))
            return False
        self.ok(label + (f" (peak {r.maxrss_kb // 1024} MiB)" if maxrss_mb else ""))
        return True

    def unchanged(self, before, after, what, allowed_new=()):
        """Files identical, nothing new except `allowed_new` (temporary files included)."""
        changed = [p for p in before if after.get(p) != before[p]]
        new = [p for p in after if p not in before and p not in allowed_new]
        return self.check(not changed and not new,
                          f"{what}: files intact, nothing left behind" + (f" (changed {changed}, new {new})" if changed or new else ""))

    def emu_run(self, args, **kw):
        return run([self.emu] + args, **kw)

    def run_cases(self):
        make_fixtures(self.fx)
        fx_before = self.snapshot(self.fx)
        try:
            for name in sorted(n for n in dir(self) if n.startswith("case_")):
                if self.only and self.only not in name:
                    continue
                self.current = name[5:]
                started = time.time()
                try:
                    getattr(self, name)()
                except Exception as e:  # a broken case is a failure, not a crash of the suite
                    self.fail(f"case raised {type(e).__name__}: {e}")
                finally:
                    self.unmount_all()
                    self.remove_big_fixtures()
                print(f"  ({self.current}: {time.time() - started:.1f} s)")
            self.current = "fixtures"
            self.unchanged(fx_before, self.snapshot(self.fx), "no command changed a fixture", allowed_new=())
        finally:
            self.unmount_all()

    # -----------------------------------------------------------------------------------------
    # the writers, each with its inputs and how it names its output

    def writers(self):
        f = self.fixture
        return {
            "convert": (lambda o: ["convert", "--from", "f32", "--to", "e4m3", f("w.f32"), "--out", o], [f("w.f32")]),
            "dequant": (lambda o: ["dequant", f("fp8.safetensors"), "--out", o], [f("fp8.safetensors")]),
            "quantize": (lambda o: ["quantize", f("model.safetensors"), "--recipe", "block128", "--out", o],
                         [f("model.safetensors")]),
            "copy": (lambda o: ["copy", f("model.safetensors"), "--out", o], [f("model.safetensors")]),
            "export": (lambda o: ["export", f("model.safetensors"), "--tensor", "x.bias", "--out", o],
                       [f("model.safetensors")]),
            "import": (lambda o: ["import", "x=" + f("a.npy"), "--out", o], [f("a.npy")]),
            "gemm": (lambda o: ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--out", o], [f("a.npy"), f("b.npy")]),
            "train-checkpoint": (lambda o: ["train", "--recipe", "fp32"] + TRAIN_FAST + ["--save-checkpoint", o], []),
            "train-log": (lambda o: ["train", "--recipe", "fp32"] + TRAIN_FAST + ["--log", o], []),
            "train-svg": (lambda o: ["train", "--recipe", "fp32"] + TRAIN_FAST + ["--svg", o], []),
            "train-curves": (lambda o: ["train", "--recipe", "fp32"] + TRAIN_FAST + ["--curves", o], []),
        }

    # -----------------------------------------------------------------------------------------
    # outputs

    def case_outputs_refused(self):
        """A directory, a device, a named pipe, a dangling link, a missing folder, any input (by
        another spelling, a hard link or a symbolic link): refused with 73 before anything is
        written; the empty path is a usage error (64)."""
        for name, (argv, inputs) in self.writers().items():
            d = self.scratch("refused-" + name)
            os.mkdir(os.path.join(d, "adir"))
            os.mkfifo(os.path.join(d, "fifo"))
            os.symlink("nowhere/at/all", os.path.join(d, "dangling"))
            bad = [os.path.join(d, "adir"), os.path.join(d, "adir") + "/", "/dev/null", os.path.join(d, "fifo"),
                   os.path.join(d, "dangling"), os.path.join(d, "missing", "out")]
            for inp in inputs:
                hard, sym = os.path.join(d, "hard"), os.path.join(d, "sym")
                for p in (hard, sym):
                    if os.path.lexists(p):
                        os.unlink(p)
                os.link(inp, hard)
                os.symlink(inp, sym)
                bad += [inp, os.path.join(os.path.dirname(inp), ".", os.path.basename(inp)), hard, sym]
                break
            before = self.snapshot(d)
            fx_before = self.snapshot(self.fx)
            for out in bad:
                r = self.emu_run(argv(out), cwd=d)
                self.expect(r, 73, what=f"{name} --out {os.path.relpath(out, self.work)}")
            r = self.emu_run(argv(""), cwd=d)
            self.expect(r, 64, what=f"{name} --out ''")
            self.unchanged(before, self.snapshot(d), f"{name}: scratch folder")
            self.unchanged(fx_before, self.snapshot(self.fx), f"{name}: inputs")

    def case_outputs_symlink_followed(self):
        """A symbolic link as the output: the file it points to is replaced, the link stays."""
        for name, (argv, _) in self.writers().items():
            d = self.scratch("symlink-" + name)
            target, link = os.path.join(d, "target"), os.path.join(d, "link")
            with open(target, "wb") as f:
                f.write(b"old")
            os.symlink("target", link)
            r = self.emu_run(argv(link), cwd=d)
            if self.expect(r, 0, what=f"{name} --out link"):
                self.check(os.path.islink(link) and open(target, "rb").read() != b"old"
                           and sorted(os.listdir(d)) == ["link", "target"], f"{name}: link kept, target replaced, no temp")

    def case_outputs_twice_and_in_place(self):
        """The same command twice gives the same file (the old one replaced whole, never lost); an
        output that exists stays intact when the run fails on a missing input."""
        for name, (argv, inputs) in self.writers().items():
            if name.startswith("train") or name == "gemm":
                continue
            d = self.scratch("twice-" + name)
            out = os.path.join(d, "out")
            r1 = self.emu_run(argv(out), cwd=d)
            first = open(out, "rb").read() if os.path.exists(out) else None
            r2 = self.emu_run(argv(out), cwd=d)
            self.expect(r1, 0, what=f"{name} first run")
            self.expect(r2, 0, what=f"{name} second run over the first output")
            self.check(first is not None and os.path.exists(out) and open(out, "rb").read() == first
                       and os.listdir(d) == ["out"], f"{name}: second output equals the first, nothing else left")
        f = self.fixture
        d = self.scratch("kept-on-error")
        out = os.path.join(d, "out")
        with open(out, "wb") as fh:
            fh.write(b"precious")
        for args, code in [(["convert", "--from", "f32", "--to", "e4m3", os.path.join(d, "missing.f32"), "--out", out], 66),
                           (["convert", "--from", "f32", "--to", "e4m3", f("odd.f32"), "--out", out], 65),
                           (["dequant", f("truncated.safetensors"), "--out", out], 65),
                           (["dequant", f("twoscales.safetensors"), "--out", out], 65),
                           (["quantize", f("noweights.safetensors"), "--recipe", "block128", "--out", out], 65),
                           (["gemm", "--a", f("a.npy"), "--b", f("b_bad.npy"), "--out", out], 65)]:
            r = self.emu_run(args, cwd=d)
            self.expect(r, code)
            self.check(open(out, "rb").read() == b"precious" and os.listdir(d) == ["out"],
                       f"{args[0]}: the existing output is intact after the failure")

    def case_outputs_readonly_folder(self):
        if not self.root:
            return self.skip("needs root to mount a read-only tmpfs")
        ro = self.tmpfs("1m", readonly=True)
        for name, (argv, _) in self.writers().items():
            r = self.emu_run(argv(os.path.join(ro, "out")))
            self.expect(r, 73, what=f"{name} into a read-only folder")

    def case_full_disk(self):
        """A 1 MiB tmpfs with an existing output: 74 (or 73 when not even the temporary file can be
        created), the existing file byte-identical, no temporary file, never SIGBUS."""
        if not self.root:
            return self.skip("needs root to mount a small tmpfs")
        for name, (argv, _) in self.writers().items():
            disk = self.tmpfs("1m")
            out = os.path.join(disk, "out")
            with open(out, "wb") as fh:
                fh.write(b"precious" * 1000)
            # fill the disk: a new file can still be created (an inode), not one byte written
            self.fill(disk, 1 << 20)
            before = self.snapshot(disk)
            r = self.emu_run(argv(out))
            self.expect(r, {73, 74}, what=f"{name} on a full disk")
            self.unchanged(before, self.snapshot(disk), f"{name}: full disk")
        disk = self.tmpfs("1m")
        self.fill(disk, 2 << 20)
        before = self.snapshot(disk)
        r = self.emu_run(["copy", self.fixture("model.safetensors"), "--out", os.path.join(disk, "new")])
        self.expect(r, {73, 74}, what="copy onto a completely full disk")
        self.unchanged(before, self.snapshot(disk), "completely full disk")

    # -----------------------------------------------------------------------------------------
    # interrupted runs

    def case_interrupted(self):
        """SIGINT or SIGTERM while the temporary output exists: the process removes it and dies of
        the signal (a shell shows 128+n); an existing output is untouched."""
        big_fixtures(self.fx, 256)
        f = self.fixture
        cases = [
            ("convert", signal.SIGINT, lambda o: ["convert", "--from", "f32", "--to", "e4m3", "--rounding", "stochastic",
                                                  "--isa", "scalar", f("big.f32"), "--out", o]),
            ("convert", signal.SIGTERM, lambda o: ["convert", "--from", "f32", "--to", "e5m2", "--isa", "scalar", f("big.f32"),
                                                   "--out", o]),
            ("dequant", signal.SIGTERM, lambda o: ["dequant", f("bigfp8.safetensors"), "--to", "f32", "--out", o]),
            ("quantize", signal.SIGINT, lambda o: ["quantize", f("bigbf16.safetensors"), "--recipe", "per-tensor",
                                                   "--out", o]),
            ("copy", signal.SIGHUP, lambda o: ["copy", f("bigbf16.safetensors"), "--out", o]),
        ]
        for name, sig, argv in cases:
            d = self.scratch(f"interrupt-{name}-{sig.name}")
            out = os.path.join(d, "out")
            with open(out, "wb") as fh:
                fh.write(b"precious")
            r = run([self.emu] + argv(out), cwd=d, interrupt=(sig, d))
            self.check(r.rc == -sig, f"{name} killed by {sig.name}: exit {r.rc} (want -{int(sig)}, 128+{int(sig)} in a shell)")
            self.check(os.listdir(d) == ["out"] and open(out, "rb").read() == b"precious",
                       f"{name} {sig.name}: temporary file removed, existing output intact")
        self.remove_big_fixtures()

    # -----------------------------------------------------------------------------------------
    # sizes and memory

    def case_memory_streaming(self):
        """Files larger than the address-space limit stream through in bounded memory."""
        big_fixtures(self.fx, 256)
        f = self.fixture
        limit = 200 << 20
        d = self.scratch("streaming")
        for argv in (["convert", "--from", "f32", "--to", "e4m3", f("big.f32"), "--out", os.path.join(d, "o.e4m3")],
                     ["dequant", f("bigfp8.safetensors"), "--out", os.path.join(d, "o.safetensors")],
                     ["quantize", f("bigbf16.safetensors"), "--recipe", "per-tensor", "--out", os.path.join(d, "q.safetensors")],
                     ["copy", f("bigbf16.safetensors"), "--out", os.path.join(d, "c.safetensors")]):
            r = measured([self.emu] + argv, cwd=d, limit_as=limit)
            self.expect(r, 0, maxrss_mb=160, what=f"{argv[0]} of a 256 MiB file under a 200 MiB address-space limit")
            for x in os.listdir(d):
                os.unlink(os.path.join(d, x))
        self.remove_big_fixtures()

    def case_memory_refused(self):
        """Products and models that cannot fit are refused with the figure, before allocating."""
        f = self.fixture
        gemm = ["gemm", "--a", f("tall.npy"), "--b", f("wide.npy")]
        r = measured([self.emu] + gemm, limit_as=2 << 30)
        self.expect(r, 1, mentions=["GiB"], maxrss_mb=200, what="gemm 40000x1 · 1x100000 under a 2 GiB limit")
        r = measured([self.emu] + gemm + ["--max-memory", "1G"])
        self.expect(r, 1, mentions=["GiB", "--max-memory"], maxrss_mb=200, what="gemm 40000x1 · 1x100000 with --max-memory 1G")
        r = measured([self.emu, "train", "--recipe", "fp32", "--width", "60000", "--heads", "4", "--steps", "1", "--quiet"],
                     limit_as=4 << 30)
        self.expect(r, 1, mentions=["GiB"], maxrss_mb=200, what="train --width 60000 refused by its memory estimate")
        r = measured([self.emu, "train", "--recipe", "fp32", "--steps", "1", "--quiet", "--max-memory", "1M"])
        self.expect(r, 1, mentions=["--max-memory"], what="train under --max-memory 1M")
        for args in (["inspect", f("hugeshape.safetensors")], ["gemm", "--a", f("hugeshape.npy"), "--b", f("b.npy")]):
            self.expect(measured([self.emu] + args, limit_as=2 << 30), 65, maxrss_mb=200)

    # -----------------------------------------------------------------------------------------
    # nonsense options: usage errors (64) before any work

    def case_nonsense_options(self):
        f = self.fixture
        train = ["train", "--recipe", "fp32", "--steps", "2", "--quiet"]
        usage = [
            train + ["--heads", "0"], train + ["--heads", "3", "--width", "64"], train + ["--width", "0"], train + ["--width", "100000"],
            train + ["--width", "-8"], train + ["--digits", "50", "--task", "addition"], train + ["--lr", "nan"],
            train + ["--lr", "inf"], train + ["--lr", "-1"], ["train", "--recipe", "fp32", "--steps", "0"],
            train + ["--steps", "-3"], train + ["--high-precision", "bogus"], train + ["--high-precision", "block9.qkv"],
            train + ["--grad-accumulation", "0"], train + ["--micro-batch", "0"], train + ["--warmup", "-1"],
            train + ["--final-lr-fraction", "2"], train + ["--init-std", "nan"], train + ["--init-std", "0"],
            train + ["--label-noise", "1.5", "--task", "addition"], train + ["--amax-history", "0"],
            train + ["--clip-value", "nan"], train + ["--clip-norm", "-1"], train + ["--recalibrate-every", "0"],
            train + ["--eval-every", "-1"], train + ["--threads", "-1"], train + ["--task", "bogus"],
            ["train", "--recipe", "bogus"], ["train", "--compare", ""], ["train", "--compare", "fp32,,delayed"],
            ["train", "--gpu", "bogus"], ["train", "--recipe", "fp32", "--compare", "fp32,delayed"],
            train + ["--amax-history", "16"], train + ["--digits", "3"], train + ["--label-noise", "0.2"],
            train + ["--fp16-schedule", "maybe"], train + ["--loss-scaling", "yes"], train + ["--amax-algo", "median"],
            train + ["--grad-format", "e3m4"], train + ["--layers", "0"], train + ["--text", f("w.f32"), "--task", "addition"],
            ["train", "--compare", "fp32,delayed", "--save-checkpoint", "x.safetensors", "--steps", "1"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--format", "bogus"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--accumulation", "promoted=0"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--accumulation", "promoted=-4"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--gpu", "bogus"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--threads", "-1"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--weights", f("fp8.safetensors"), "--tensor", "x.weight"],
            ["gemm", "--a", f("a.npy"), "--weights", f("fp8.safetensors")],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--tensor", "x.weight"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--quantize", "bogus"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--isa", "bogus"],
            ["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--max-memory", "lots"],
            ["gemm", "--a", f("a.npy")],
            ["convert", "--from", "bogus", "--to", "e4m3", f("w.f32"), "--out", "x"],
            ["convert", "--from", "f32", "--to", "e4m3", "--rounding", "up", f("w.f32"), "--out", "x"],
            ["convert", "--from", "f32", "--to", "e8m0", "--rounding", "stochastic", f("w.f32"), "--out", "x"],
            ["convert", "--from", "e4m3", "--to", "e5m2", f("w.e4m3"), "--out", "x"],
            ["convert", "--from", "e4m3", "--to", "f32", "--rounding", "rz", f("w.e4m3"), "--out", "x"],
            ["convert", "--from", "e4m3", "--to", "f32", "--preset", "pytorch", f("w.e4m3"), "--out", "x"],
            ["convert", "--from", "f32", "--to", "e4m3", "--seed", "3", f("w.f32"), "--out", "x"],
            ["convert", "--from", "f32", "--to", "e4m3", "--isa", "bogus", f("w.f32"), "--out", "x"],
            ["convert", "--from", "f32", "--to", "e4m3", f("w.f32")],
            ["dequant", f("fp8.safetensors"), "--out", "x", "--to", "e4m3"],
            ["quantize", f("model.safetensors"), "--out", "x"],
            ["quantize", f("model.safetensors"), "--out", "x", "--recipe", "bogus"],
            ["quantize", f("model.safetensors"), "--out", "x", "--preset", "deepseek-v3", "--recipe", "mxfp8"],
            ["quantize", f("model.safetensors"), "--out", "x", "--recipe", "block128", "--format", "e8m0"],
            ["quantize", f("model.safetensors"), "--out", "x", "--recipe", "block128", "--mx-rule", "round-up"],
            ["import", "noequals", "--out", "x"], ["import", "x=" + f("a.npy"), "x=" + f("b.npy"), "--out", "x"],
            ["import", "=" + f("a.npy"), "--out", "x"],
            ["deploy", "--digits", "0"], ["deploy", "--steps", "0"], ["deploy", "--calibration", "0"],
            ["deploy", "--threads", "-2"], ["deploy", "--isa", "bogus"],
            ["verify", "--sources", "bogus"], ["verify", "--f32-stride", "0"], ["verify", "--threads", "-1"],
            ["validate", "--vectors", f("adir"), "--isa", "bogus"],
            ["inspect"], ["bogus-command"], ["train", "--no-such-option"],
        ]
        d = self.scratch("nonsense")
        for args in usage:
            r = self.emu_run(args, cwd=d, timeout=60)
            self.expect(r, 64)
        self.check(os.listdir(d) == [], "no usage error created a file")
        bench = [["io", "--reps", "0"], ["io", "--size-mib", "0"], ["io", "--size-mib", "-1"], ["gemm", "--reps", "0"],
                 ["convert", "--reps", "0"], ["tensorcore", "--reps", "0"], ["int8", "--reps", "0"], ["train", "--steps", "0"]]
        for args in bench:
            r = run([self.bench] + args, cwd=d, timeout=60)
            self.expect(r, 64, what="fp8-bench " + " ".join(args))

    def case_bad_files(self):
        """Missing or unreadable inputs 66, malformed data 65, each in one line naming the file."""
        f = self.fixture
        d = self.scratch("badfiles")
        missing = os.path.join(d, "missing")
        for args, code, name in [
            (["inspect", missing], 66, "missing"), (["inspect", f("adir")], 66, "adir"), (["inspect", f("fifo")], 66, "fifo"),
            (["inspect", f("truncated.safetensors")], 65, "truncated"), (["inspect", f("w.f32")], 65, "w.f32"),
            (["dequant", missing, "--out", "o"], 66, "missing"), (["copy", f("adir"), "--out", "o"], 66, "adir"),
            (["export", f("model.safetensors"), "--tensor", "nope", "--out", "o"], 65, "nope"),
            (["import", "x=" + missing, "--out", "o"], 66, "missing"), (["import", "x=" + f("bad.npy"), "--out", "o"], 65, "bad.npy"),
            (["gemm", "--a", missing, "--b", f("b.npy")], 66, "missing"), (["gemm", "--a", f("bad.npy"), "--b", f("b.npy")], 65, "bad.npy"),
            (["gemm", "--a", f("a.npy"), "--b", f("b_bad.npy")], 65, "b_bad.npy"),
            (["gemm", "--a", f("a.npy"), "--b", f("b.npy"), "--c", f("a.npy")], 65, "a.npy"),
            (["gemm", "--a", f("a.npy"), "--weights", f("fp8.safetensors"), "--tensor", "nope"], 65, "nope"),
            (["convert", "--from", "f32", "--to", "e4m3", f("odd.f32"), "--out", "o"], 65, "odd.f32"),
            (["convert", "--from", "f32", "--to", "e4m3", f("fifo"), "--out", "o"], 66, "fifo"),
            (["train", "--recipe", "fp32", "--steps", "1", "--quiet", "--text", f("nonutf8.txt")], 65, "nonutf8.txt"),
            (["train", "--recipe", "fp32", "--steps", "1", "--quiet", "--text", f("short.txt")], 65, "short.txt"),
            (["train", "--recipe", "fp32", "--steps", "1", "--quiet", "--text", missing], 66, "missing"),
            (["train", "--recipe", "fp32", "--steps", "1", "--quiet", "--text", f("adir")], 66, "adir"),
            (["train", "--recipe", "fp32", "--steps", "1", "--quiet", "--resume", f("model.safetensors")], 65, "model.safetensors"),
            (["deploy", "--checkpoint", f("adir")], 66, "adir"), (["deploy", "--checkpoint", f("w.f32")], 65, "w.f32"),
            (["deploy", "--checkpoint", missing], 66, "missing"),
            (["validate", "--vectors", missing], 66, "missing"),
        ]:
            r = self.emu_run(args, cwd=d, timeout=60)
            self.expect(r, code, mentions=[name])
        self.check(os.listdir(d) == [], "no failed run created a file")

    def case_long_runs_check_outputs_first(self):
        """train and deploy find an output they cannot write before they start, not after."""
        d = self.scratch("precheck")
        for opt in ("--svg", "--curves", "--log", "--save-checkpoint"):
            r = self.emu_run(["train", "--recipe", "fp32", "--steps", "300", "--quiet", opt, os.path.join(d, "no", "such", "x")],
                             cwd=d, timeout=60)
            self.expect(r, 73, what=f"train {opt} into a missing folder")
            self.check(r.seconds < 10, f"train {opt}: refused in {r.seconds:.1f} s, before training")

    # -----------------------------------------------------------------------------------------
    # results and semantics

    def case_quantize_replaces_scales(self):
        f = self.fixture
        d = self.scratch("rescale")
        q, back = os.path.join(d, "q.safetensors"), os.path.join(d, "back.safetensors")
        self.expect(self.emu_run(["quantize", f("stale.safetensors"), "--recipe", "mxfp8", "--out", q]), 0)
        r = self.emu_run(["inspect", q, "--json"])
        names = [t["name"] for t in json.loads(r.out)["tensors"]] if r.rc == 0 else []
        self.check(names == ["x.weight", "x.weight_scale"], f"one scale after re-quantising: {names}")
        self.expect(self.emu_run(["dequant", q, "--to", "f32", "--out", back]), 0)
        r = self.emu_run(["inspect", back, "--json"])
        amax = json.loads(r.out)["tensors"][0]["amax"] if r.rc == 0 else None
        self.check(amax is not None and 3.4 < amax < 3.9, f"dequantised amax {amax} is about the data's (3.85; OCP MX saturates it to 3.5), not 448")
        self.expect(self.emu_run(["dequant", f("twoscales.safetensors"), "--out", back]), 65,
                    mentions=["x.weight_scale", "x.weight_scale_inv"])

    def case_gemm_reports_nan(self):
        """NaN in A or C: the report counts the NaN outputs and never prints a perfect score."""
        f = self.fixture
        for extra, what in ((["--a", f("a_nan.npy"), "--b", f("b.npy")], "NaN in A"),
                            (["--a", f("a.npy"), "--b", f("b.npy"), "--c", f("c_nan.npy")], "NaN in C")):
            r = self.emu_run(["gemm"] + extra)
            self.expect(r, 0, what="gemm with " + what)
            text = r.out_text
            self.check(re.search(r"\b\d+ NaN", text) is not None and "max rel 0.0 " not in text,
                       f"gemm with {what}: the report counts NaN outputs: {text.splitlines()[-3:]}")
            r = self.emu_run(["gemm", "--json"] + extra)
            try:
                row = json.loads(r.out_text.splitlines()[-1])
                self.check(row.get("nan_outputs", 0) > 0, f"gemm --json with {what}: nan_outputs {row.get('nan_outputs')}")
            except (ValueError, IndexError) as e:
                self.fail(f"gemm --json with {what}: no JSON ({e})")

    # -----------------------------------------------------------------------------------------
    # conventions

    def case_conventions(self):
        f = self.fixture
        d = self.scratch("conventions")
        for exe in (self.emu, self.bench):
            r = run([exe, "--version"])
            self.check(r.rc == 0 and re.match(r"^\S+ \d+\.\d+", r.out_text) is not None and not r.err,
                       f"{os.path.basename(exe)} --version: {r.out_text.strip()!r}")
        for args in (["--help"], ["help", "train"], ["convert", "--help"], ["gemm", "-h"]):
            r = self.emu_run(args)
            self.check(r.rc == 0 and "USAGE:" in r.out_text and not r.err, f"fp8emu {' '.join(args)}: help on stdout, exit 0")
        # the old spelling of gradient accumulation still works, with one warning
        r = self.emu_run(["train", "--recipe", "fp32", "--steps", "1", "--micro-batch", "2", "--accumulation", "1",
                          "--eval-every", "0", "--width", "16", "--layers", "1", "--heads", "2", "--quiet"], cwd=d)
        self.check(r.rc == 0 and len(r.err_lines()) == 1 and "deprecated" in r.err_text and "--grad-accumulation" in r.err_text,
                   f"train --accumulation: deprecated alias with one warning ({r.rc}, {r.err_lines()})")
        # --quiet: nothing on stderr; progress only on a terminal (here stderr is a pipe)
        for args in (["train", "--recipe", "fp32"] + TRAIN_FAST,
                     ["dequant", f("fp8.safetensors"), "--out", os.path.join(d, "o")],
                     ["inspect", f("model.safetensors")]):
            r = self.emu_run(args, cwd=d)
            self.check(r.rc == 0 and r.err == b"", f"{args[0]}: nothing on stderr ({r.err_lines()[:2]})")
        # JSON: snake_case keys, numbers as numbers, null for NaN/Inf
        snake = re.compile(r"^[a-z][a-z0-9_]*$")

        def keys_ok(obj, skip=("metadata",)):
            if isinstance(obj, dict):
                return all((snake.match(k) is not None) and (k in skip or keys_ok(v)) for k, v in obj.items())
            if isinstance(obj, list):
                return all(keys_ok(v) for v in obj)
            return not (isinstance(obj, str) and obj.lower() in ("nan", "inf", "-inf", "infinity"))

        for args in (["inspect", f("model.safetensors"), "--json"],
                     ["train", "--recipe", "fp32", "--json"] + TRAIN_FAST,
                     ["train", "--compare", "fp32,delayed", "--json"] + TRAIN_FAST,
                     ["gemm", "--a", f("a_nan.npy"), "--b", f("b.npy"), "--json"]):
            r = self.emu_run(args, cwd=d, timeout=300)
            try:
                docs = [json.loads(l, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
                        for l in r.out_text.splitlines() if l.strip()]
                self.check(r.rc == 0 and docs and all(keys_ok(x) for x in docs),
                           f"{args[0]} --json: snake_case keys, no NaN strings")
            except ValueError as e:
                self.fail(f"{args[0]} --json: not strict JSON ({e})")
        r = run([self.bench, "io", "--size-mib", "1", "--reps", "1", "--json", "--dir", d])
        try:
            docs = [json.loads(l) for l in r.out_text.splitlines() if l.strip()]
            self.check(r.rc == 0 and docs and all(keys_ok(x) for x in docs), "fp8-bench io --json: snake_case keys")
        except ValueError as e:
            self.fail(f"fp8-bench --json: not JSON ({e})")

    def case_names_from_files_escaped(self):
        """Tensor names and metadata with terminal escapes are printed escaped."""
        r = self.emu_run(["inspect", self.fixture("escape.safetensors")])
        self.expect(r, 0, forbid_out=[b"\x1b", b"\x07", b"\xc2\x9b"], what="inspect of names with escape sequences")
        r = self.emu_run(["export", self.fixture("escape.safetensors"), "--tensor", "nope\x1b[2J", "--out", "/dev/null"])
        self.expect(r, {65, 73}, forbid_out=[b"\x1b"], what="an error naming an escape sequence")

    def case_non_utf8_file_names(self):
        """A file name that is not UTF-8 works byte for byte, or is refused clearly; never altered."""
        d = self.scratch("nonutf8")
        src, out = os.path.join(os.fsencode(d), b"w\xff.f32"), os.path.join(os.fsencode(d), b"o\xfe.e4m3")
        shutil.copy(self.fixture("w.f32"), src)
        r = run([os.fsencode(self.emu), b"convert", b"--from", b"f32", b"--to", b"e4m3", src, b"--out", out])
        names = sorted(os.listdir(os.fsencode(d)))
        if r.rc == 0:
            self.check(names == sorted([b"w\xff.f32", b"o\xfe.e4m3"]), f"non-UTF-8 names kept byte for byte: {names}")
        else:
            self.expect(r, 64, mentions=["UTF-8"], what="non-UTF-8 file name refused")
            self.check(names == [b"w\xff.f32"], f"nothing written under another name: {names}")


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    bin_dir = os.path.abspath(args[0])
    only = args[args.index("--only") + 1] if "--only" in args else None
    work = tempfile.mkdtemp(prefix="fp8emu-hostile-")
    suite = Suite(bin_dir, work, only)
    start = time.time()
    try:
        suite.run_cases()
    finally:
        if "--keep" not in args:
            shutil.rmtree(work, ignore_errors=True)
    print(f"hostile CLI suite: {suite.passed} passed, {len(suite.failed)} failed, {len(suite.skipped)} skipped "
          f"in {time.time() - start:.0f} s")
    for s in suite.skipped:
        print("  skipped:", s)
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
