"""The GPU check (issue 14): one command that runs every CUDA path of Inspector on a real GPU within
8 minutes and writes what it saw to bench/results/gpu-<date>.md.

    bash scripts/gpu_check.sh [--bundle DIR]     # on the GPU machine (finds python, installs carried wheels)
    python scripts/gpu_check.py --device cpu     # the dry run: every step's plumbing on the CPU, toy sizes

Steps, in order; each is time-boxed (seconds on the GPU: cap / guaranteed minimum), and a step that
fails or runs out of time never stops the ones after it; the report says which and why:
  env         versions, nvidia-smi, a bf16 matmul; imports the project needs              30 / 15
  cuda-tests  pytest -m cuda tests/cuda; meanwhile the benchmarks' compiled variants are
              compiled once in background processes (--warm-only) to fill inductor's on-disk
              caches, so the timed runs below do not each spend minutes compiling          150 / 60
  speed       bench/model_speed.py --device cuda --profile: aan_s, MobileNetV3-Large and
              EfficientNet-B0 in one run: eager, CUDA graph, compiled; batch 1 and 256     150 / 60
  train       bench/train_throughput.py --device cuda --profile: aan_s vs EfficientNet-B0,
              batch 128 (the ImageNet recipe's), eager and compiled; the ImageNet estimate 120 / 50
  finetune    demo data -> inspector import -> inspector finetune --gpus 1 --wait (torchrun,
              NCCL, a few hundred steps) -> registered model version; then a second job,
              fine-tuned from that model, stopped by `inspector job cancel` (SIGTERM) and
              resumed to the end                                                           150 / 90
  compile     the trainer with run.compile=true under torchrun (DDP + NCCL + inductor)    90 / 0
The caps add up to more than the budget (--budget, default 470 s): each step gets at most its cap
and never so much that a later step would lose its minimum; the report is rewritten after every
step (and copied to --bundle), so even a run killed from outside leaves what it had.

Everything goes under --out (default build/gpu-check/<stamp>/): one log per step and process,
bench JSON, metrics, nvidia-smi, env.json, summary.json and the report; a GPU run also writes
bench/results/gpu-<date>.md. --bundle DIR gets the report, summary.json and a tarball of the logs
(no checkpoints): three files, for machines that hand back only a few.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
PEERS = ("aan_s", "mobilenet_v3_large", "efficientnet_b0")
TRAIN_PEERS = ("aan_s", "efficientnet_b0")
REPORT_RESERVE_S = 10.0  # kept back at the end for the report and the bundle
MIN_STEP_S = 10.0  # a step offered less than this (or than half its minimum, or its cap) is skipped
NEEDED_MODULES = ("torch", "torchvision", "numpy", "PIL", "safetensors", "sqlalchemy", "alembic", "pytest")


@dataclass
class StepResult:
    name: str
    title: str
    status: str = "not run"  # passed | failed | timed out | skipped | not run
    seconds: float = 0.0
    timeout_s: float = 0.0
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why it failed, one line each
    logs: list[str] = field(default_factory=list)  # paths relative to the output folder


@dataclass(frozen=True)
class StepSpec:
    name: str
    title: str
    cap_s: float  # on the GPU
    minimum_s: float
    dry_cap_s: float  # in the CPU dry run
    run: Callable[["Check", StepResult, float], None]


class Proc:
    """A child process in its own process group, its output in a log file; killed (group) on timeout."""

    def __init__(self, check: "Check", argv: list[str], log: str, *, cwd: Path | None = None,
                 env: dict[str, str] | None = None):
        self.argv, self.log = argv, log
        self.path = check.out / log
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "ab")
        self.file.write(f"$ {shlex.join(argv)}\n".encode())
        self.file.flush()
        self.t0 = time.monotonic()
        self.popen = subprocess.Popen(argv, cwd=cwd or REPO, env=env or check.env, stdin=subprocess.DEVNULL,
                                      stdout=self.file, stderr=subprocess.STDOUT, start_new_session=True)
        self.rc: int | None = None
        self.timed_out = False
        self.seconds = 0.0
        check.children.append(self)

    def wait(self, timeout: float) -> int | None:
        try:
            self.rc = self.popen.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.kill()
        self.seconds = time.monotonic() - self.t0
        self.file.write(f"\n[exit status {self.rc}{', killed after its time limit' if self.timed_out else ''}, "
                        f"{self.seconds:.1f} s]\n".encode())
        self.file.close()
        return self.rc

    def running(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.rc = self.popen.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Check:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dry = args.device == "cpu"
        self.t0 = time.monotonic()
        self.started = dt.datetime.now(dt.timezone.utc)
        self.deadline = self.t0 + args.budget
        stamp = self.started.strftime("%Y%m%d-%H%M%S")
        self.out = Path(args.out or REPO / "build" / "gpu-check" / stamp).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.python = sys.executable
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.setdefault("QT_QPA_PLATFORM", "offscreen")
        if self.dry:
            # One CPU thread per child: toy sizes gain nothing from more, while the dry run's processes
            # overlap (the warm-up with the tests, launchers with their workers), and on two cores that
            # another process keeps busy torch's two threads wait for each other in every operation
            # (the whole dry run: 160-220 s with two threads each, 80-90 s with one).
            self.env.setdefault("OMP_NUM_THREADS", "1")
        self.children: list[Proc] = []
        self.background: dict[str, Proc] = {}
        self.job_dirs: list[Path] = []  # training jobs started through the local backend (own sessions)
        self.joined: set[str] = set()
        self.results: list[StepResult] = []
        self.selected: set[str] = set()
        self.env_info: dict[str, Any] = {}
        self.data: dict[str, Any] = {}  # JSON results of the steps (speed, train, finetune, ...)
        date = self.started.strftime("%Y-%m-%d")
        self.report_name = f"gpu-{date}-dry-run.md" if self.dry else f"gpu-{date}.md"
        results_dir = args.results_dir if args.results_dir is not None else (None if self.dry else REPO / "bench" / "results")
        self.results_path = Path(results_dir) / self.report_name if results_dir else None
        self.lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def step(self, name: str) -> StepResult | None:
        return next((r for r in self.results if r.name == name), None)

    def run(self, argv: list[str], log: str, timeout: float, **kw) -> Proc:
        p = Proc(self, argv, log, **kw)
        p.wait(timeout)
        return p

    def py(self, *args: str) -> list[str]:
        return [self.python, *args]

    def app(self, *args: str) -> list[str]:
        return [self.python, "-m", "app", *args]


# --- steps ---------------------------------------------------------------------------------------

ENV_PROBE = r"""
import importlib, json, os, platform, sys, time
info = {"python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
        "cpus": os.cpu_count(), "modules": {}}
for name in sys.argv[2].split(","):
    try:
        m = importlib.import_module(name)
        info["modules"][name] = getattr(m, "__version__", "present")
    except Exception as e:
        info["modules"][name] = None
        info.setdefault("import_errors", {})[name] = f"{type(e).__name__}: {e}"
for name in ("triton",):
    try:
        info["modules"][name] = importlib.import_module(name).__version__
    except Exception:
        info["modules"][name] = None
import torch
import torch.distributed as dist
info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
            cuda_available=torch.cuda.is_available(), nccl_available=dist.is_nccl_available(),
            gloo_available=dist.is_gloo_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    info.update(gpu=p.name, gpus=torch.cuda.device_count(), capability=f"{p.major}.{p.minor}",
                sms=p.multi_processor_count, memory_gib=round(p.total_memory / 2**30, 1))
    try:
        info["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    except Exception as e:
        info["nccl"] = f"unknown ({e})"
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(10):
        a @ a
    torch.cuda.synchronize()
    info["bf16_matmul_tflops"] = round(10 * 2 * 8192**3 / (time.perf_counter() - t) / 1e12, 1)
try:
    import socket
    info["hostname"] = socket.gethostname()
    info["hostname_resolves"] = bool(socket.gethostbyname(socket.gethostname()))
except OSError as e:
    info["hostname_resolves"] = False
    info["hostname_error"] = str(e)
open(sys.argv[1], "w").write(json.dumps(info, indent=2) + "\n")
"""


def step_env(c: Check, r: StepResult, timeout: float) -> None:
    probe = c.out / "env_probe.py"
    probe.write_text(ENV_PROBE)
    p = c.run(c.py(str(probe), str(c.out / "env.json"), ",".join(NEEDED_MODULES)), "env/probe.log", timeout - 12)
    r.logs.append(p.log)
    if (c.out / "env.json").exists():
        c.env_info = json.loads((c.out / "env.json").read_text())
    smi = shutil.which("nvidia-smi")
    if smi:
        for args, name in (([], "nvidia-smi.txt"), (["--query-gpu=name,driver_version,memory.total,clocks.max.sm,"
                                                   "power.limit,pstate,temperature.gpu", "--format=csv"], "nvidia-smi.csv")):
            q = c.run([smi, *args], f"env/{name}", 5)
            c.env_info.setdefault("nvidia_smi_files", []).append(q.log)
        head = (c.out / "env/nvidia-smi.csv").read_text().splitlines()
        c.env_info["nvidia_smi_gpu"] = head[-1] if len(head) > 2 else ""
        drv = re.search(r"Driver Version:\s*(\S+)", (c.out / "env/nvidia-smi.txt").read_text())
        c.env_info["driver"] = drv.group(1) if drv else None
    else:
        c.env_info["nvidia_smi_files"] = []
    try:
        c.env_info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                              text=True, timeout=5).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                               text=True, timeout=5).stdout.strip()
        c.env_info["dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        c.env_info["commit"] = None
    (c.out / "env.json").write_text(json.dumps(c.env_info, indent=2) + "\n")
    if p.rc != 0:
        r.problems.append(f"the environment probe failed (exit {p.rc}): {last_error(p.tail(30))}")
    missing = [m for m, v in c.env_info.get("modules", {}).items() if v is None and m in NEEDED_MODULES]
    if missing:
        r.problems.append(f"missing Python modules: {', '.join(missing)} (carry wheels: bash scripts/gpu_wheels.sh "
                          "here, then carry .whl; scripts/gpu_check.sh installs them)")
    if not c.dry and not c.env_info.get("cuda_available"):
        r.problems.append("torch.cuda.is_available() is False on a --device cuda run")
    e = c.env_info
    r.summary = (f"{e.get('gpu', 'no GPU')}, torch {e.get('torch')} (CUDA {e.get('torch_cuda')}), "
                 f"cuDNN {e.get('cudnn')}, NCCL {e.get('nccl', '-')}, Python {e.get('python')}, {e.get('cpus')} CPUs"
                 + (f", bf16 matmul {e['bf16_matmul_tflops']} TFLOP/s" if e.get("bf16_matmul_tflops") else ""))
    r.status = "failed" if r.problems else "passed"
    start_warmers(c)


def start_warmers(c: Check) -> None:
    """Compile the benchmarks' compiled variants once, in parallel, while the tests run: inductor's
    FX-graph and AOT-autograd caches are on disk, so the timed runs later hit them. (The dry run
    starts one, Dynamo only, for the plumbing.)"""
    if "speed" not in c.selected and "train" not in c.selected:
        return
    if c.dry:
        c.background["warm-speed-aan_s"] = Proc(c, c.py("bench/model_speed.py", "--dry-run", "--warm-only", "--models",
                                                         "aan_s"), "warm/speed-aan_s.log")
        return
    env = dict(c.env, TORCHINDUCTOR_COMPILE_THREADS="4")
    for m in PEERS if "speed" in c.selected else ():
        c.background[f"warm-speed-{m}"] = Proc(c, c.py("bench/model_speed.py", "--device", "cuda", "--warm-only",
                                                        "--models", m), f"warm/speed-{m}.log", env=env)
    for m in TRAIN_PEERS if "train" in c.selected else ():
        c.background[f"warm-train-{m}"] = Proc(c, c.py("bench/train_throughput.py", "--device", "cuda", "--warm-only",
                                                        "--batch", "128", "--models", m), f"warm/train-{m}.log", env=env)


def join_warmers(c: Check, prefix: str, until: float, r: StepResult) -> None:
    """Wait for the warmers of this step until `until` (monotonic); those still running are stopped."""
    done = {}
    for name, p in c.background.items():
        if not name.startswith(prefix) or name in c.joined:
            continue
        if p.rc is None and not p.timed_out:
            p.wait(until - time.monotonic())
        c.joined.add(name)
        done[name] = {"exit": p.rc, "seconds": round(p.seconds, 1), "stopped": p.timed_out}
        r.logs.append(p.log)
    if done:
        r.details["warm-up"] = done


def step_cuda_tests(c: Check, r: StepResult, timeout: float) -> None:
    xml = c.out / "cuda-tests.xml"
    env = dict(c.env, **({"INSPECTOR_CUDA_TESTS_ON_CPU": "1"} if c.dry else {}))
    # No Qt plugin: the GPU machine's image has no PySide6, and these tests need none.
    p = c.run(c.py("-m", "pytest", "-m", "cuda", "tests/cuda", "-q", "-rA", "-p", "no:cacheprovider", "-p", "no:pytest-qt",
                   f"--junitxml={xml}"), "cuda-tests.log", timeout, env=env)
    r.logs.append(p.log)
    cases = parse_junit(xml)
    r.details["cases"] = cases
    counts = {k: sum(1 for t in cases if t["outcome"] == k) for k in ("passed", "failed", "error", "skipped")}
    r.details["counts"] = counts
    r.summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "no tests ran"
    if c.dry:
        r.summary += " (dry run: the CPU stands in for the GPU)"
    if p.timed_out:
        r.status = "timed out"
        r.problems.append(f"pytest ran past {timeout:.0f} s")
        return
    for t in cases:
        if t["outcome"] in ("failed", "error"):
            r.problems.append(f"{t['name']}: {t['message']}")
    if p.rc != 0 and not r.problems:
        r.problems.append(f"pytest exit status {p.rc}: {last_error(p.tail(30))}")
    if not c.dry and counts["skipped"]:
        r.problems.append(f"{counts['skipped']} CUDA test(s) skipped on a GPU machine: "
                          + "; ".join(t["message"] for t in cases if t["outcome"] == "skipped")[:400])
    r.status = "failed" if r.problems else "passed"


def parse_junit(path: Path) -> list[dict]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    cases = []
    for tc in root.iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (el.get("message") or el.text or "").strip().splitlines()
                message = message[0][:300] if message else ""
                break
        cases.append({"name": f"{tc.get('classname', '').split('.')[-1]}::{tc.get('name')}", "outcome": outcome,
                      "message": message, "seconds": round(float(tc.get("time") or 0), 2)})
    return cases


def bench_step(c: Check, r: StepResult, timeout: float, *, key: str, script: str, extra: list[str]) -> dict:
    started = time.monotonic()
    # No warm-up process may run while anything is timed: wait for all of them (the train ones too),
    # at most until a third of this step's time is gone, and stop the ones still compiling then.
    join_warmers(c, "warm-", started + timeout / 3, r)
    out = c.out / f"{key}.json"
    argv = c.py(script, "--json", str(out), "--profile", *(["--dry-run"] if c.dry else ["--device", "cuda", *extra]))
    p = c.run(argv, f"{key}.log", timeout - (time.monotonic() - started))
    r.logs.append(p.log)
    data = json.loads(out.read_text()) if out.exists() else {}
    c.data[key] = data
    if p.timed_out:
        r.status = "timed out"
        r.problems.append(f"ran past its {timeout:.0f} s; the rows measured until then are kept")
    elif p.rc != 0:
        r.status = "failed"
        r.problems.append(f"exit status {p.rc}: {last_error(p.tail(40))}")
    else:
        r.status = "passed"
    return data


def step_speed(c: Check, r: StepResult, timeout: float) -> None:
    data = bench_step(c, r, timeout, key="speed", script="bench/model_speed.py", extra=[])
    targets = data.get("targets", [])
    r.summary = "; ".join(f"{t['what']}: {fmt(t['measured'], t['unit'])} ({t['verdict']})" for t in targets) or "no rows"
    r.details["rows"] = len(data.get("rows", []))
    skips = data.get("counters", {}).get("cudagraph_skips")
    if skips:
        r.problems.append(f"inductor skipped CUDA graphs {skips} time(s) (see speed.log for why)")
        r.status = "failed" if r.status == "passed" else r.status


def step_train(c: Check, r: StepResult, timeout: float) -> None:
    data = bench_step(c, r, timeout, key="train", script="bench/train_throughput.py", extra=["--batch", "128"])
    t, e = data.get("target"), data.get("imagenet_epoch") or {}
    parts = []
    if t:
        parts.append(f"{t['what']}: {fmt(t['measured'], t['unit'])} ({t['verdict']})")
    if e.get("seconds"):
        parts.append(f"ImageNet-1K epoch on {e['gpus']} GPUs ~ {e['seconds'] / 60:.1f} min")
    r.summary = "; ".join(parts) or "no rows"


def last_error(text: str) -> str:
    lines = [l for l in text.splitlines() if l.strip() and not l.startswith("[exit status")]
    errs = [l for l in lines if re.search(r"(Error|Exception|error:)", l)]
    return (errs[-1] if errs else lines[-1] if lines else "no output").strip()[:300]


# --- fine-tuning through the product: import, finetune, register, cancel, resume -------------------


def read_jsonl(path: Path) -> list[dict]:
    out = []
    try:
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    except OSError:
        pass
    return out


def jobs_json(c: Check, db: Path, log: str, timeout: float = 30) -> list[dict]:
    """`inspector jobs --json` (which also refreshes unfinished jobs, registering finished ones)."""
    q = subprocess.run(c.app("jobs", "--db", str(db), "--json"), cwd=REPO, env=c.env, capture_output=True, text=True,
                       timeout=timeout)
    with open(c.out / log, "a") as f:
        f.write(f"$ inspector jobs --db {db} --json  [exit {q.returncode}]\n{q.stdout}{q.stderr}")
    try:
        return json.loads(q.stdout)
    except ValueError:
        return []


def step_finetune(c: Check, r: StepResult, timeout: float) -> None:
    end = time.monotonic() + timeout
    left = lambda: end - time.monotonic()  # noqa: E731
    work = c.out / "finetune"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "project.db"
    dry = c.dry
    n_images = 40 if dry else 1200
    p = c.run(c.app("demo-data", str(work / "demo"), "--n", str(n_images), "--seed", "0", "--overwrite"),
              "finetune/demo-data.log", min(60, left()))
    r.logs.append(p.log)
    if p.rc != 0:
        r.problems.append(f"demo-data failed: {last_error(p.tail())}")
        r.status = "failed"
        return
    p = c.run(c.app("import", str(work / "demo" / "metal_plate"), "--db", str(db)), "finetune/import.log", min(60, left()))
    r.logs.append(p.log)
    if p.rc != 0:
        r.problems.append(f"import failed: {last_error(p.tail())}")
        r.status = "failed"
        return
    env = dict(c.env)
    if not dry:
        env.setdefault("NCCL_DEBUG", "INFO")  # the job's log then shows that NCCL ran, and its version
    if not c.env_info.get("hostname_resolves", True) and "GLOO_SOCKET_IFNAME" not in env:
        # The trainer's gloo group (the SIGTERM vote) binds to the address of the host name; a
        # machine whose name does not resolve gets the loopback device, enough for one node.
        env["GLOO_SOCKET_IFNAME"] = "lo"
        r.details["gloo"] = "host name does not resolve: GLOO_SOCKET_IFNAME=lo"
    gpu_args = ["--gpus", "0", "--nproc", "1", "--input-size", "64", "--batch-size", "8"] if dry else \
        ["--gpus", "1", "--batch-size", "64"]
    # Job B must still be running when the SIGTERM of `inspector job cancel` lands, a process start
    # (seconds on a busy machine) after its first epoch: a dry-run epoch takes about 0.25 s on one
    # thread, and 4 epochs were over before the signal came.
    epochs_a, epochs_b = (2, 20) if dry else (c.args.finetune_epochs, c.args.finetune_epochs + 10)
    cap = ["--max-steps-per-epoch", "3"] if dry else []

    # Job A: from scratch, followed to the end; registers a model version.
    p = c.run(c.app("finetune", "--db", str(db), "--base", "aan_s", *gpu_args, "--epochs", str(epochs_a), *cap,
                    "--wait", "--poll", "0.5"), "finetune/job-a.log", min(150, left() - 40), env=env)
    r.logs.append(p.log)
    text = (c.out / p.log).read_text(errors="replace")
    job_a = _int(re.search(r"^job (\d+): submitted", text, re.M))
    if job_a:
        c.job_dirs.append(work / "project.jobs" / str(job_a))
        if stop_job(c.job_dirs[-1]):
            r.problems.append("job A was still running when its time was up: stopped")
    model_a = _int(re.search(r"model (\d+) \(.*\) registered: (.*)$", text, re.M))
    ckpt_a = (re.search(r"model \d+ \(.*\) registered: (.*)$", text, re.M) or [None, None])[1]
    a = describe_job(c, work / "project.jobs" / str(job_a)) if job_a else {}
    a.update(job=job_a, model=model_a, checkpoint=ckpt_a, exit=p.rc)
    r.details["job_a"] = a
    if p.rc != 0 or model_a is None:
        r.problems.append(f"job A (finetune --wait) {'ran out of time' if p.timed_out else f'exit {p.rc}'}: "
                          f"{last_error(p.tail(30))}")
    if not dry and not a.get("nccl"):
        r.problems.append("job A's log shows no NCCL line (NCCL_DEBUG=INFO): was it really NCCL?")
    if a.get("device") and a["device"] != ("cpu" if dry else "cuda"):
        r.problems.append(f"job A trained on {a['device']}")

    # Job B: fine-tuned from job A's model, stopped by SIGTERM (job cancel) mid-run, resumed to the end.
    b: dict[str, Any] = {}
    r.details["job_b"] = b
    if ckpt_a and left() > 30:
        job_b_sigterm_resume(c, r, b, db, env, ckpt_a, gpu_args, epochs_b, cap, left)
    elif not ckpt_a:
        r.problems.append("job B not run: job A registered no model to fine-tune from")
    else:
        r.problems.append("job B not run: no time left")
    jobs = jobs_json(c, db, "finetune/jobs.json.log")
    r.details["jobs"] = [{k: j.get(k) for k in ("id", "state", "result_model_id", "base_model_id", "epochs_done",
                                                 "epochs", "val_acc", "error")} for j in jobs]
    by_id = {j["id"]: j for j in jobs}
    if job_a and by_id.get(job_a, {}).get("state") != "succeeded":
        r.problems.append(f"job A is {by_id.get(job_a, {}).get('state')} in `inspector jobs`")
    if b.get("job") and b.get("resumed_via") == "inspector job resume":
        jb = by_id.get(b["job"], {})
        b["registered_model"] = jb.get("result_model_id")
        if jb.get("state") != "succeeded" or not jb.get("result_model_id"):
            r.problems.append(f"job B after resume is {jb.get('state')} (model {jb.get('result_model_id')})")
    ips = a.get("images_per_s_median")
    r.summary = (f"job A: {a.get('steps', 0)} steps in {a.get('epochs', 0)} epochs, {fmt(ips, ' img/s')} "
                 f"(median of step records), model {model_a} registered; job B: " + (
                     f"SIGTERM after step {b.get('stopped_at')}, exit {b.get('cancel_exit')}, resumed via "
                     f"{b.get('resumed_via')} (next step record: {b.get('resumed_from')}), {b.get('final_state')}"
                     if b.get("job") else "not run"))
    r.status = "failed" if r.problems else "passed"


def _int(m) -> int | None:
    return int(m.group(1)) if m else None


def stop_job(job_dir: Path, grace: float = 20.0) -> bool:
    """Stop a local-backend job still running (it runs in a session of its own, out of reach of the
    step's time limit): SIGTERM to its group, SIGKILL after `grace`. True if one was running."""
    pid = _json(job_dir / "pid").get("pid")
    if not isinstance(pid, int) or not _group_alive(pid):
        return False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return True
        end = time.monotonic() + wait
        while time.monotonic() < end and _group_alive(pid):
            time.sleep(0.2)
        if not _group_alive(pid):
            return True
    return True


def _group_alive(pgid: int) -> bool:
    """Any process of the group that is not a zombie (an orphan's zombie lingers where no init reaps)."""
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
        return False
    except OSError:
        try:
            os.killpg(pgid, 0)
            return True
        except OSError:
            return False


def describe_job(c: Check, job_dir: Path) -> dict:
    """What the job folder says: steps, epochs, throughput, device, NCCL lines, resume records."""
    recs = read_jsonl(job_dir / "out" / "metrics.jsonl")
    steps = [x for x in recs if x.get("kind") == "step"]
    epochs = [x for x in recs if x.get("kind") == "epoch"]
    starts = [x for x in recs if x.get("kind") == "start"]
    rates = sorted(x["images_per_s"] for x in steps[1:] if x.get("images_per_s"))
    log = job_dir / "train.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    if log.exists():
        dest = c.out / "finetune" / f"job-{job_dir.name}-train.log"
        shutil.copyfile(log, dest)
        shutil.copyfile(job_dir / "out" / "metrics.jsonl", c.out / "finetune" / f"job-{job_dir.name}-metrics.jsonl") \
            if (job_dir / "out" / "metrics.jsonl").exists() else None
    nccl = re.search(r"NCCL version ([^\s]+)", text)
    last_epoch = epochs[-1] if epochs else {}
    return {
        "dir": str(job_dir), "steps": steps[-1]["global_step"] if steps else 0, "epochs": len(epochs),
        "images_per_s_median": rates[len(rates) // 2] if rates else None,
        "epoch_time_s_median": sorted(x.get("epoch_time_s", 0) for x in epochs)[len(epochs) // 2] if epochs else None,
        "device": starts[0].get("device") if starts else None, "world_size": starts[0].get("world_size") if starts else None,
        "steps_per_epoch": starts[0].get("steps_per_epoch") if starts else None,
        "train_images": starts[0].get("train_images") if starts else None,
        "val_acc": last_epoch.get("val_acc"), "val_balanced_acc": last_epoch.get("val_balanced_acc"),
        "nccl": nccl.group(1) if nccl else ("yes" if "NCCL INFO" in text else None),
        "starts": [{k: s.get(k) for k in ("resumed", "epoch", "step_in_epoch")} for s in starts],
        "global_steps": [x["global_step"] for x in steps], "epoch_list": [x["epoch"] for x in epochs],
        "kinds": [x.get("kind") for x in recs][-3:],
    }


def job_b_sigterm_resume(c: Check, r: StepResult, b: dict, db: Path, env: dict, ckpt_a: str, gpu_args: list[str],
                         epochs: int, cap: list[str], left: Callable[[], float]) -> None:
    p = c.run(c.app("finetune", "--db", str(db), "--base", ckpt_a, *gpu_args, "--epochs", str(epochs), *cap),
              "finetune/job-b-submit.log", min(60, left()), env=env)
    r.logs.append(p.log)
    job = _int(re.search(r"^job (\d+): submitted", (c.out / p.log).read_text(errors="replace"), re.M))
    b["job"] = job
    if job is not None:
        c.job_dirs.append(db.with_suffix(".jobs") / str(job))
    if p.rc != 0 or job is None:
        r.problems.append(f"job B submission failed: {last_error(p.tail())}")
        return
    job_dir = db.with_suffix(".jobs") / str(job)
    metrics = job_dir / "out" / "metrics.jsonl"
    # SIGTERM once the first epoch is done and the second has begun: the stop lands mid-run.
    deadline = time.monotonic() + min(90, left() - 30)
    while time.monotonic() < deadline:
        recs = read_jsonl(metrics)
        if any(x.get("kind") == "epoch" for x in recs) and recs[-1].get("kind") == "step":
            break
        if (job_dir / "exit_code").exists():
            break
        time.sleep(0.05)
    recs = read_jsonl(metrics)
    if (job_dir / "exit_code").exists():
        r.problems.append("job B ended before it could be stopped (too short for this GPU: raise --finetune-epochs)")
        return
    if not any(x.get("kind") == "epoch" for x in recs):
        r.problems.append(f"job B finished no epoch in time: {last_error((job_dir / 'train.log').read_text(errors='replace')[-3000:]) if (job_dir / 'train.log').exists() else 'no log'}")
    p = c.run(c.app("job", "cancel", str(job), "--db", str(db)), "finetune/job-b-cancel.log", min(90, left()), env=env)
    r.logs.append(p.log)
    status = _json(job_dir / "out" / "status.json")
    b["cancel_exit"] = _read_int(job_dir / "exit_code")
    b["status_after_cancel"] = status.get("state")
    recs = read_jsonl(metrics)
    stopped = next((x for x in reversed(recs) if x.get("kind") == "preempted"), None)
    b["stopped_at"] = stopped.get("global_step") if stopped else None
    if p.rc != 0:
        r.problems.append(f"job cancel exit {p.rc}: {last_error(p.tail())}")
    if status.get("state") != "preempted" or b["cancel_exit"] != 75 or not (job_dir / "out" / "resume.pt").exists():
        r.problems.append(f"after SIGTERM: status {status.get('state')}, exit code {b['cancel_exit']}, "
                          f"resume.pt {'present' if (job_dir / 'out' / 'resume.pt').exists() else 'missing'} "
                          "(expected preempted, 75, present)")
    # Resume: the product's command when this tree has it, else the job's own torchrun command again.
    resume_opts = cli_options("job", "resume")
    if resume_opts is not None:
        b["resumed_via"] = "inspector job resume"
        resumed_at = time.time() - 1.0
        wait = ["--wait", "--poll", "0.5"] if "--wait" in resume_opts else []
        p = c.run(c.app("job", "resume", str(job), "--db", str(db), *wait), "finetune/job-b-resume.log", left() - 5,
                  env=env)
        r.logs.append(p.log)
        # Without --wait: follow the job folder until the launcher writes a new exit code.
        code = job_dir / "exit_code"
        while not wait and left() > 5 and not (code.exists() and code.stat().st_mtime >= resumed_at):
            time.sleep(0.2)
        rc = _read_int(code) if code.exists() and code.stat().st_mtime >= resumed_at else None
        b["final_state"] = "still running" if rc is None else "succeeded" if rc == 0 else f"exit {rc}"
        if p.rc != 0:
            r.problems.append(f"job resume exit {p.rc}: {last_error(p.tail())}")
    else:
        b["resumed_via"] = "the job's torchrun command again"
        argv = shlex.split((job_dir / "command.txt").read_text().strip())
        p = c.run(argv, "finetune/job-b-resume.log", left() - 5, cwd=job_dir, env=env)
        r.logs.append(p.log)
        b["final_state"] = "succeeded" if p.rc == 0 else f"exit {p.rc}"
        b["note"] = "this tree has no `inspector job resume`: the store keeps the job as cancelled"
    if stop_job(job_dir):
        r.problems.append("job B was still running when its time was up: stopped")
    d = describe_job(c, job_dir)
    b.update({k: d[k] for k in ("steps", "epochs", "starts", "images_per_s_median", "device")})
    steps = d["global_steps"]
    resumed = d["starts"][1:] and d["starts"][-1].get("resumed")
    after = [s for s in steps if b["stopped_at"] is not None and s > b["stopped_at"]]
    b["resumed_from"] = min(after) if after else None
    if b["final_state"] != "succeeded":
        r.problems.append(f"job B after resume: {b['final_state']}")
    if not resumed:
        r.problems.append("job B's second start record does not say resumed")
    if steps != sorted(set(steps)):
        r.problems.append("job B's step records repeat or go backwards after the resume")
    if b["stopped_at"] is not None and b["resumed_from"] is not None and b["resumed_from"] > b["stopped_at"] + 1 + 10:
        r.problems.append(f"job B resumed at step {b['resumed_from']}, stopped at {b['stopped_at']}")
    if d["epoch_list"] != sorted(set(d["epoch_list"])):
        r.problems.append(f"job B's epochs repeat: {d['epoch_list']}")


def cli_options(*words: str) -> set[str] | None:
    """The options of this tree's `inspector WORDS...` command (asked of its parser), None if it has none."""
    sys.path.insert(0, str(REPO))
    try:
        from app.cli import build_parser

        parser = build_parser()
        for word in words:
            sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
            if sub is None or word not in sub.choices:
                return None
            parser = sub.choices[word]
        return {o for a in parser._actions for o in a.option_strings}
    except Exception:
        return None
    finally:
        sys.path.remove(str(REPO))


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def step_compile(c: Check, r: StepResult, timeout: float) -> None:
    ft = c.step("finetune")
    job_a = ft.details.get("job_a", {}) if ft else {}
    src = Path(job_a.get("dir", "")) / "job.json"
    if not src.exists():
        r.status = "skipped"
        r.summary = "no job A config to start from"
        return
    cfg = json.loads(src.read_text())
    out = c.out / "finetune" / "compile-run"
    shutil.rmtree(out, ignore_errors=True)
    cfg["run"].update(out_dir=str(out), compile=not c.dry, log_every=5, job_id="gpu-check-compile")
    cfg["schedule"].update(epochs=2, max_steps_per_epoch=3 if c.dry else 30)
    path = c.out / "finetune" / "compile-job.json"
    path.write_text(json.dumps(cfg, indent=2))
    env = dict(c.env)
    if not c.env_info.get("hostname_resolves", True):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    p = c.run(c.py("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m", "training.finetune",
                   "--config", str(path)), "finetune/compile-run.log", timeout, env=env)
    r.logs.append(p.log)
    recs = read_jsonl(out / "metrics.jsonl")
    steps = [x for x in recs if x.get("kind") == "step"]
    rates = sorted(x["images_per_s"] for x in steps[2:] if x.get("images_per_s"))
    losses = [x["loss"] for x in steps]
    r.details.update(compile=cfg["run"]["compile"], steps=len(steps), losses=losses[-5:],
                     images_per_s_median=rates[len(rates) // 2] if rates else None)
    if p.timed_out:
        r.status = "timed out"
        r.problems.append(f"ran past {timeout:.0f} s (compiling DDP + aan_s fwd/bwd)")
    elif p.rc != 0:
        r.status = "failed"
        r.problems.append(f"exit {p.rc}: {last_error(p.tail(40))}")
    elif not losses or not all(isinstance(x, (int, float)) and x == x and abs(x) < 1e6 for x in losses):
        r.status = "failed"
        r.problems.append(f"losses not finite: {losses[-5:]}")
    else:
        r.status = "passed"
    r.summary = (f"{'compiled' if cfg['run']['compile'] else 'eager (dry run)'} trainer under torchrun: {len(steps)} "
                 f"step records, median {fmt(r.details['images_per_s_median'], ' img/s')} after the first two")


STEPS = [
    StepSpec("env", "environment", 30, 15, 60, step_env),
    StepSpec("cuda-tests", "pytest -m cuda", 150, 60, 300, step_cuda_tests),
    StepSpec("speed", "bench/model_speed.py --device cuda", 150, 60, 150, step_speed),
    StepSpec("train", "bench/train_throughput.py --device cuda", 120, 50, 150, step_train),
    StepSpec("finetune", "torchrun fine-tune (NCCL), registration, SIGTERM and resume", 150, 90, 200, step_finetune),
    StepSpec("compile", "trainer with run.compile under torchrun", 90, 0, 90, step_compile),
]


# --- report ----------------------------------------------------------------------------------------


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}{unit}" if abs(v) < 10 else f"{v:.1f}{unit}"
    return f"{v}{unit}"


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def render(c: Check, *, final: bool) -> str:
    e = c.env_info
    elapsed = time.monotonic() - c.t0
    title = (f"# GPU check, {c.started:%Y-%m-%d}: {e.get('gpu', 'no GPU')}" if not c.dry else
             f"# GPU check DRY RUN on the CPU, {c.started:%Y-%m-%d} (toy sizes: no number here means anything)")
    out = [title, ""]
    out.append(f"Written by `scripts/gpu_check.py` ({'finished' if final else 'IN PROGRESS or interrupted'}), "
               f"{c.started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s of a {c.args.budget:.0f} s budget; commit "
               f"{e.get('commit') or '?'}{' (uncommitted changes)' if e.get('dirty') else ''}; "
               f"everything else is in the output folder `{c.out.name}` (tarball `gpu-check-logs.tar.gz`).")
    out.append("")
    out.append(md_table(["", ""], [
        ["GPU", f"{e.get('gpu', '-')} x{e.get('gpus', 0)}, {e.get('memory_gib', '-')} GiB, capability "
                f"{e.get('capability', '-')}, {e.get('sms', '-')} SMs; driver {e.get('driver') or '-'}"],
        ["software", f"torch {e.get('torch')} (CUDA {e.get('torch_cuda')}), cuDNN {e.get('cudnn')}, NCCL "
                     f"{e.get('nccl', '-')}, triton {e.get('modules', {}).get('triton')}, torchvision "
                     f"{e.get('modules', {}).get('torchvision')}, Python {e.get('python')} ({e.get('executable')})"],
        ["host", f"{e.get('cpus')} CPUs, {e.get('platform')}"],
        ["sanity", f"bf16 8192^3 matmul {e.get('bf16_matmul_tflops', '-')} TFLOP/s"],
    ]))
    out += ["", "## Steps", ""]
    out.append(md_table(["step", "status", "s", "limit s", "summary"],
                        [[f"{r.name}: {r.title}", r.status.upper() if r.status != "passed" else "passed",
                          f"{r.seconds:.0f}", f"{r.timeout_s:.0f}", r.summary] for r in c.results]))
    problems = [(r.name, p) for r in c.results for p in r.problems]
    if problems:
        out += ["", "What went wrong:", ""] + [f"- **{n}**: {p}" for n, p in problems]

    out += ["", "## Targets (issue 14), measured in this run", ""]
    speed, train = c.data.get("speed", {}), c.data.get("train", {})
    rows = [[t["what"], fmt(t["measured"], t["unit"]), f"{t['op']} {t['target']}{t['unit']}", t["verdict"]]
            for t in speed.get("targets", [])]
    if train.get("target"):
        t = train["target"]
        rows.append([f"{t['what']} ({t.get('variant')})", fmt(t["measured"], t["unit"]),
                     f"{t['op']} {t['target']}{t['unit']}", t["verdict"]])
    out.append(md_table(["target", "measured", "goal", "verdict"], rows or [["(benchmarks did not run)", "", "", ""]]))

    out += ["", "## ImageNet-1K epoch on 8 GPUs, aan_s (estimate)", ""]
    ie = train.get("imagenet_epoch") or {}
    if ie.get("seconds"):
        out.append(f"{ie['formula']} = **{ie['seconds']:.0f} s = {ie['seconds'] / 60:.1f} min** per epoch "
                   f"({ie['variant']}, batch {ie['batch_per_gpu']} per GPU, global {ie['batch_per_gpu'] * ie['gpus']}); "
                   f"300 epochs: {ie['seconds'] * 300 / 3600:.1f} h. Compute only: linear scaling over GPUs, an input "
                   f"pipeline that keeps up (at {ie['images_per_s_per_gpu'] * ie['gpus']:.0f} images/s JPEG decoding "
                   "and cropping needs many cores: training/README.md), DDP's all-reduce hidden behind backward.")
    else:
        out.append("Not measured (the train step did not produce a compiled aan_s rate).")

    out += ["", "## Fine-tuning through the product on one GPU", ""]
    ft = c.step("finetune")
    if ft and ft.details:
        a, b = ft.details.get("job_a", {}), ft.details.get("job_b", {})
        out.append(f"- Job A (`inspector finetune --base aan_s --gpus 1 --wait`, torchrun, backend "
                   f"{'NCCL ' + str(a.get('nccl')) if a.get('nccl') else 'gloo (dry run)' if c.dry else 'NCCL not seen'}): "
                   f"{a.get('train_images')} training images, {a.get('steps_per_epoch')} steps per epoch, "
                   f"{a.get('steps')} steps in {a.get('epochs')} epochs on {a.get('device')}; "
                   f"**{fmt(a.get('images_per_s_median'), ' images/s')}** (median over step records), median epoch "
                   f"{fmt(a.get('epoch_time_s_median'), ' s')} including validation and checkpoints; final val acc "
                   f"{fmt(a.get('val_acc'))}; model version {a.get('model')} registered.")
        if b.get("job"):
            out.append(f"- Job B (fine-tuned from model {a.get('model')}): SIGTERM by `inspector job cancel` after step "
                       f"{b.get('stopped_at')}, status {b.get('status_after_cancel')}, exit code {b.get('cancel_exit')}; "
                       f"resumed via {b.get('resumed_via')} (its next step record: {b.get('resumed_from')}; start "
                       f"records {b.get('starts')}); {b.get('steps')} steps in {b.get('epochs')} epochs, "
                       f"{b.get('final_state')}" + (f", model {b.get('registered_model')} registered"
                                                    if b.get("registered_model") else "") + "."
                       + (f" Note: {b['note']}." if b.get("note") else ""))
        for j in ft.details.get("jobs", []):
            out.append(f"  - `inspector jobs`: job {j['id']} {j['state']}, model {j['result_model_id']}, "
                       f"base model {j['base_model_id']}, epochs {j['epochs_done']}/{j['epochs']}, val acc {fmt(j['val_acc'])}")
    cm = c.step("compile")
    if cm and cm.details:
        out.append(f"- Trainer with `run.compile` under torchrun: {cm.summary}.")
    if not (ft and ft.details):
        out.append("Not run.")

    out += ["", "## CUDA tests", ""]
    ct = c.step("cuda-tests")
    cases = ct.details.get("cases", []) if ct else []
    out.append(md_table(["test", "outcome", "s", "message"], [[t["name"], t["outcome"], t["seconds"], t["message"]]
                                                              for t in cases]) if cases else "Not run.")

    out += ["", "## Model speed (bench/model_speed.py --device cuda)", ""]
    if speed.get("rows"):
        s = speed["setup"]
        out.append(f"{speed.get('device_name')}, {'bf16 autocast' if s.get('amp') else 'fp32'}, channels_last, "
                   f"{s['size']}x{s['size']}; b{s['small']}: median latency of one call (launch, run, sync); "
                   f"b{s['large']}: throughput. compiled = torch.compile(mode={s['large_mode']!r}) at b{s['large']}, "
                   f"mode={s['small_mode']!r} at b{s['small']}; graph = the eager module captured as one CUDA graph.")
        out.append("")
        out.append(md_table(["mode", "model", "batch", "ms", "images/s", "CUDA graphs", "prep s (compile/capture)",
                             "rel. err. vs eager"],
                            [[x["mode"], x["model"], x["batch"], x["ms"], x["images_per_s"],
                              "yes" if x.get("cuda_graphs") else "no", x["prep_s"], f"{x['rel_err_vs_eager']:.1e}"]
                             for x in speed["rows"]]))
        out.append("")
        out.append(f"Ratios: `{json.dumps(speed.get('ratios'))}`; inductor counters: `{json.dumps(speed.get('counters'))}`")
    else:
        out.append("No rows.")

    out += ["", "## Training throughput (bench/train_throughput.py --device cuda)", ""]
    if train.get("variants"):
        names = [x["model"] for x in train["variants"][0]["rows"]]
        out.append(f"{train.get('device_name')}, batch {train['batch']} per process, {train['size']}x{train['size']}, "
                   "cross-entropy (label smoothing 0.1), clip 5, fused AdamW; images/s from the median step.")
        out.append("")
        out.append(md_table(["variant", *names, *[f"aan_s / {m}" for m in names[1:]], "first step s (compile)"],
                            [[v["variant"], *[x["images_per_s"] for x in v["rows"]],
                              *[v["aan_s_over"][m] for m in names[1:]],
                              ", ".join(str(x["first_step_s"]) for x in v["rows"])] for v in train["variants"]]))
        out.append("")
        out.append(f"Inductor counters: `{json.dumps(train.get('counters'))}`")
    else:
        out.append("No rows.")

    profs = dict((speed.get("profiles") or {}))
    if train.get("profile"):
        profs[f"training step, {train['profile']['label']}"] = train["profile"]["table"]
    if profs:
        out += ["", "## Where the time goes (torch.profiler)", ""]
        for label, text in profs.items():
            out += [f"<details><summary>{label}</summary>", "", "```", text.rstrip(), "```", "", "</details>", ""]

    smi = c.out / "env" / "nvidia-smi.txt"
    out += ["", "## nvidia-smi", ""]
    if smi.exists():
        text = "\n".join(l for l in smi.read_text(errors="replace").splitlines() if not l.startswith("$ "))
        out += ["```", text.strip(), "```"]
    else:
        out.append("nvidia-smi not found on this machine.")

    failed = [r for r in c.results if r.status not in ("passed", "skipped", "not run")]
    if failed:
        out += ["", "## Log tails of the steps that did not pass", ""]
        for r in failed:
            for log in r.logs[-2:]:
                path = c.out / log
                if path.exists():
                    tail = "\n".join(path.read_text(errors="replace").splitlines()[-30:])
                    out += [f"<details><summary>{r.name}: {log}</summary>", "", "```", tail, "```", "", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def write_report(c: Check, *, final: bool) -> None:
    with c.lock:
        text = render(c, final=final)
        (c.out / c.report_name).write_text(text)
        summary = {"started": c.started.isoformat(), "seconds": round(time.monotonic() - c.t0, 1), "final": final,
                   "dry_run": c.dry, "env": c.env_info, "steps": [asdict(r) for r in c.results],
                   "speed": {k: c.data.get("speed", {}).get(k) for k in ("ratios", "targets", "counters")},
                   "train": {k: c.data.get("train", {}).get(k) for k in ("target", "imagenet_epoch", "counters")}}
        (c.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if c.results_path is not None:
            c.results_path.parent.mkdir(parents=True, exist_ok=True)
            c.results_path.write_text(text)
        if c.args.bundle:
            bundle = Path(c.args.bundle)
            bundle.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(c.out / c.report_name, bundle / c.report_name)
            shutil.copyfile(c.out / "summary.json", bundle / "summary.json")
            with tarfile.open(bundle / "gpu-check-logs.tar.gz", "w:gz") as tar:
                for path in sorted(c.out.rglob("*")):
                    if path.is_file() and keep_in_bundle(path, c.out):
                        tar.add(path, arcname=f"{c.out.name}/{path.relative_to(c.out)}")


def keep_in_bundle(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    if rel.parts[0] == "finetune" and len(rel.parts) > 2:  # the job folders: images, checkpoints, the db
        return path.name in ("metrics.jsonl", "train.log", "job.json", "command.txt", "status.json", "result.json")
    return path.suffix in (".log", ".json", ".jsonl", ".txt", ".csv", ".md", ".xml") and path.stat().st_size < 8 << 20


# --- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/gpu_check.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: the dry run (toy sizes)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for everything (default 470 on the GPU: 8 min less a margin; 900 in the CPU dry run, "
                        "which checks plumbing, not time, on machines that may be busy)")
    p.add_argument("--out", help="output folder (default build/gpu-check/<stamp>)")
    p.add_argument("--bundle", help="also copy the report, summary.json and a tarball of the logs here (e.g. $OUT)")
    p.add_argument("--results-dir", help="where the report goes too (default bench/results on a GPU run, none in a dry run)")
    p.add_argument("--only", help="comma-separated steps to run (env always runs): " + ",".join(s.name for s in STEPS))
    p.add_argument("--finetune-epochs", type=int, default=30, help="job A's epochs on the GPU (a few hundred steps)")
    args = p.parse_args(argv)
    if args.budget is None:
        args.budget = 900.0 if args.device == "cpu" else 470.0
    only = set(args.only.split(",")) | {"env"} if args.only else None
    c = Check(args)
    print(f"gpu check: output in {c.out}", flush=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    specs = [s for s in STEPS if only is None or s.name in only]
    c.results = [StepResult(s.name, s.title) for s in specs]
    c.selected = {s.name for s in specs}
    try:
        for i, (spec, r) in enumerate(zip(specs, c.results)):
            later = sum(s.minimum_s for s in specs[i + 1:])
            cap = spec.dry_cap_s if c.dry else spec.cap_s
            timeout = min(cap, c.remaining() - later - REPORT_RESERVE_S)
            r.timeout_s = max(timeout, 0)
            if timeout < min(cap, max(MIN_STEP_S, spec.minimum_s / 2)):
                r.status, r.summary = "skipped", f"no time left ({c.remaining():.0f} s, later steps need {later:.0f} s)"
                continue
            print(f"[{time.monotonic() - c.t0:6.1f} s] {spec.name}: {spec.title} (limit {timeout:.0f} s)", flush=True)
            t = time.monotonic()
            try:
                spec.run(c, r, timeout)
            except Exception as e:  # a step's own bug is that step's failure, not the run's end
                r.status = "failed"
                r.problems.append(f"the check itself failed: {type(e).__name__}: {e}")
                (c.out / f"{spec.name}-traceback.txt").write_text(traceback.format_exc())
                r.logs.append(f"{spec.name}-traceback.txt")
            r.seconds = time.monotonic() - t
            print(f"[{time.monotonic() - c.t0:6.1f} s] {spec.name}: {r.status.upper()}  {r.summary}", flush=True)
            for problem in r.problems:
                print(f"           - {problem}", flush=True)
            write_report(c, final=False)
            if spec.name == "env" and not c.dry and not c.env_info.get("cuda_available"):
                print("gpu check: no CUDA device; for the dry run use --device cpu", file=sys.stderr)
                for rest in c.results[i + 1:]:
                    rest.status, rest.summary = "skipped", "no CUDA device"
                break
    except KeyboardInterrupt as e:
        for r in c.results:
            if r.status == "not run":
                r.status, r.summary = "skipped", f"interrupted ({e})"
    finally:
        for proc in c.children:
            if proc.running():
                proc.kill()
        for job_dir in c.job_dirs:
            stop_job(job_dir, grace=5.0)
        write_report(c, final=True)
    failed = [r.name for r in c.results if r.status not in ("passed",)]
    print(f"gpu check: {len(c.results) - len(failed)}/{len(c.results)} steps passed"
          + (f"; not passed: {', '.join(failed)}" if failed else "") + f"; report {c.out / c.report_name}"
          + (f" and {c.results_path}" if c.results_path else ""), flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
