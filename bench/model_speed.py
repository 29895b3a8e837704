"""Model speed: aan_s against torchvision's MobileNetV3-Large and EfficientNet-B0, same run, random weights.

CPU (default): batch-1 latency (median) and batch-32 throughput, fp32, measured round-robin so that
machine noise hits every model alike.

`--device cuda`: bf16 autocast + channels_last, batch 1 (latency of one request: launch, run, sync)
and batch 256 (throughput), each model in three modes, round-robin within a mode:
  eager     the module as it is
  graph     the eager module captured once as a CUDA graph and replayed (torch.cuda.CUDAGraph)
  compiled  torch.compile(dynamic=False): mode "default" at batch 256, "reduce-overhead" at batch 1
            (inductor's own CUDA graphs)
Every variant's output is compared with eager's on the same input (relative error, printed), and
the targets of issue 14 are printed with the ratios measured in this run: compiled batch-256
throughput of aan_s >= 1.6x MobileNetV3-Large and >= 2.5x EfficientNet-B0, aan_s batch-1 latency
with CUDA graphs <= 1 ms.

    python bench/model_speed.py [--device cpu|cuda] [--threads N] [--repeats R]
    python bench/model_speed.py --device cuda --json speed.json --profile
    python bench/model_speed.py --device cuda --warm-only --models aan_s   # compile, measure nothing:
                                        # fills inductor's on-disk caches so a following run compiles fast
    python bench/model_speed.py --dry-run      # the CUDA report's code on the CPU at toy sizes (plumbing)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.model import create_model  # noqa: E402
from core.model.complexity import count_gmacs, count_params  # noqa: E402


def _torchvision(name: str):
    import torchvision

    return getattr(torchvision.models, name)()


PEERS: dict[str, Callable[[], torch.nn.Module]] = {
    "aan_s": lambda: create_model("aan_s", 1000),
    "mobilenet_v3_large": lambda: _torchvision("mobilenet_v3_large"),
    "efficientnet_b0": lambda: _torchvision("efficientnet_b0"),
}
TARGETS = {  # issue 14
    "b256_vs_mobilenet_v3_large": 1.6,  # aan_s throughput / peer's, both compiled: at least
    "b256_vs_efficientnet_b0": 2.5,
    "b1_graph_ms": 1.0,  # aan_s batch-1 latency with CUDA graphs: at most
}
MODES = ("eager", "graph", "compiled")


def timer(device: str):
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def run_once(model, x, device: str, amp: bool) -> float:
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()
    t0 = timer(device)
    with ctx:
        model(x)
    return timer(device) - t0


def measure(models: dict, batch: int, device: str, amp: bool, repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per forward pass, round-robin over models."""
    fmt = torch.channels_last if device == "cuda" else torch.contiguous_format
    x = torch.randn(batch, 3, 224, 224, device=device).contiguous(memory_format=fmt)
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for name, m in models.items():
            for _ in range(warmup):
                run_once(m, x, device, amp)
        for _ in range(repeats):
            for name, m in models.items():
                times[name].append(run_once(m, x, device, amp))
    return {name: statistics.median(t) for name, t in times.items()}


def table(title: str, rows: list[tuple], headers: tuple) -> None:
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def build(device: str, compile_mode: str | None = None) -> dict:
    models = {}
    for name, make in PEERS.items():
        m = make().eval().to(device)
        if device == "cuda":
            m = m.to(memory_format=torch.channels_last)
        if compile_mode:
            m = torch.compile(m, mode=compile_mode)
        models[name] = m
    return models


def cpu_report(args) -> None:
    models = build("cpu")
    lat = measure(models, 1, "cpu", False, args.repeats, 5)
    thr = measure(models, 32, "cpu", False, max(3, args.repeats // 10), 1)
    rows = []
    for name, m in models.items():
        rows.append((name, f"{count_params(m) / 1e6:.2f}", f"{count_gmacs(m):.3f}", f"{lat[name] * 1e3:.2f}",
                     f"{lat[name] / lat['efficientnet_b0']:.2f}x", f"{lat[name] / lat['mobilenet_v3_large']:.2f}x",
                     f"{32 / thr[name]:.1f}", f"{thr['efficientnet_b0'] / thr[name]:.2f}x"))
    table(f"CPU, {torch.get_num_threads()} threads, fp32, 224x224 (latency ratios: lower is better; "
          "throughput ratio vs EfficientNet-B0: higher is better)", rows,
          ("model", "M params", "GMACs", "b1 ms (median)", "vs EffNet-B0", "vs MNv3-L", "b32 img/s", "b32 vs EffNet-B0"))


# --- the accelerated report (CUDA; or the CPU at toy sizes with --dry-run) -------------------------


@dataclass(frozen=True, slots=True)
class Setup:
    device: str
    small: int = 1  # batch for latency
    large: int = 256  # batch for throughput
    size: int = 224
    repeats: int = 50  # timed calls per model at the small batch
    repeats_large: int = 10  # at the large one
    warmup: int = 10  # untimed calls first at the small batch (3 at the large one, or fewer than warmup)
    backend: str = "inductor"  # torch.compile backend; the dry run uses "eager" (Dynamo only)
    large_mode: str = "default"  # torch.compile mode at the large batch (max-autotune: minutes more)
    small_mode: str = "reduce-overhead"  # at the small batch: inductor's CUDA graphs
    amp: bool = True  # bf16 autocast; the dry run on a CPU without bf16 units runs fp32 (10x faster)

    @property
    def graphs(self) -> bool:
        return self.device == "cuda"


def autocast(device: str, enabled: bool = True, **kw):
    return torch.autocast(device, dtype=torch.bfloat16, enabled=enabled, **kw)


def cuda_graphed(model: torch.nn.Module, example: torch.Tensor, *, amp: bool = True,
                 warmup: int = 3) -> Callable[[torch.Tensor], torch.Tensor]:
    """`model(x)` for inputs shaped like `example`, replayed from one captured CUDA graph.

    The call copies x into the graph's input buffer and replays; the returned tensor is the graph's
    output buffer, overwritten by the next call. Warm-up runs on a side stream first (cuDNN picks
    its algorithms there, not during capture); autocast's weight cache is off, as graph capture needs."""
    with torch.inference_mode(False):
        static_in = torch.empty_like(example).copy_(example)

    def call() -> torch.Tensor:
        with autocast("cuda", enabled=amp, cache_enabled=False):
            return model(static_in)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.no_grad():
        for _ in range(warmup):
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        static_out = call()

    def run(x: torch.Tensor) -> torch.Tensor:
        static_in.copy_(x)
        graph.replay()
        return static_out

    return run


def _models(setup: Setup, names: list[str]) -> dict[str, torch.nn.Module]:
    out = {}
    for name in names:
        torch.manual_seed(0)
        out[name] = PEERS[name]().eval().to(setup.device).to(memory_format=torch.channels_last)
    return out


def _compiled(model: torch.nn.Module, setup: Setup, batch: int):
    if setup.backend != "inductor":
        return torch.compile(model, backend=setup.backend, dynamic=False)
    return torch.compile(model, mode=setup.large_mode if batch > setup.small else setup.small_mode, dynamic=False)


def _runner(mode: str, model: torch.nn.Module, setup: Setup, batch: int, x: torch.Tensor):
    """A callable x -> logits for one (mode, model, batch), ready to time (compiled or captured)."""
    if mode == "eager":
        return model
    if mode == "graph":
        return cuda_graphed(model, x, amp=setup.amp)
    fn = _compiled(model, setup, batch)
    if setup.backend == "inductor" and batch <= setup.small and setup.small_mode == "reduce-overhead":
        def step(x):
            torch.compiler.cudagraph_mark_step_begin()  # each call is a new inference iteration
            return fn(x)
        return step
    return fn


def _time(fns: dict, x: torch.Tensor, setup: Setup, repeats: int, warmup: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn(x)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = timer(setup.device)
            fn(x)
            times[name].append(timer(setup.device) - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _counters() -> dict:
    from torch._dynamo.utils import counters

    keep = ("fxgraph_cache_hit", "fxgraph_cache_miss", "cudagraph_skips", "autograd_cache_hit", "autograd_cache_miss")
    return {k: int(v) for group in ("inductor", "aot_autograd") for k, v in counters[group].items() if k in keep}


def accel_report(setup: Setup, names: list[str], *, json_path: Path | None, warm_only: bool, profile: bool) -> dict:
    dev = setup.device
    models = _models(setup, names)
    torch.manual_seed(1)
    inputs = {b: torch.randn(b, 3, setup.size, setup.size, device=dev).contiguous(memory_format=torch.channels_last)
              for b in (setup.small, setup.large)}
    result: dict = {"device": dev, "device_name": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
                    "torch": torch.__version__, "setup": {k: getattr(setup, k) for k in Setup.__slots__},
                    "dry_run": dev != "cuda", "rows": [], "skipped": []}

    def save() -> None:
        result["counters"] = _counters()
        result["ratios"] = ratios(result["rows"])
        result["targets"] = targets(result["ratios"], setup)
        if json_path:
            json_path.write_text(json.dumps(result, indent=2) + "\n")

    with torch.inference_mode(), autocast(dev, setup.amp):
        eager_out = {(n, b): m(x).float() for n, m in models.items() for b, x in inputs.items()}
    modes = ["compiled"] if warm_only else list(MODES)
    for mode in modes:
        for batch in (setup.small, setup.large):
            if mode == "graph" and not setup.graphs:
                result["skipped"].append({"mode": mode, "batch": batch, "why": "CUDA graphs need CUDA"})
                continue
            x = inputs[batch]
            fns, prep, graphed = {}, {}, {}
            for name, model in models.items():
                skips = _counters().get("cudagraph_skips", 0)
                t0 = time.perf_counter()
                with torch.inference_mode(), autocast(dev, setup.amp):
                    fn = _runner(mode, model, setup, batch, x)
                    out = fn(x).float()  # compiles / captures; the first output is checked
                    err = float((out - eager_out[name, batch]).norm() / eager_out[name, batch].norm())
                    fn(x)
                if dev == "cuda":
                    torch.cuda.synchronize()
                fns[name], prep[name] = fn, (time.perf_counter() - t0, err)
                # Whether this variant really replays CUDA graphs (inductor says when it skips them).
                graphed[name] = mode == "graph" or (
                    mode == "compiled" and setup.backend == "inductor" and batch <= setup.small
                    and setup.small_mode == "reduce-overhead" and _counters().get("cudagraph_skips", 0) == skips)
            if warm_only:
                print(f"warmed {mode} b{batch}: " + ", ".join(f"{n} {p[0]:.1f} s" for n, p in prep.items()), flush=True)
                continue
            repeats = setup.repeats if batch <= setup.small else setup.repeats_large
            with torch.inference_mode(), autocast(dev, setup.amp):
                secs = _time(fns, x, setup, repeats, setup.warmup if batch <= setup.small else min(3, setup.warmup))
            for name in models:
                row = {"mode": mode, "model": name, "batch": batch, "ms": round(secs[name] * 1e3, 4),
                       "images_per_s": round(batch / secs[name], 1), "prep_s": round(prep[name][0], 2),
                       "rel_err_vs_eager": round(prep[name][1], 5), "cuda_graphs": graphed[name]}
                result["rows"].append(row)
                print(f"{mode:<9} b{batch:<4} {name:<19} {row['ms']:>10.3f} ms {row['images_per_s']:>10.1f} img/s  "
                      f"prep {row['prep_s']:.1f} s  rel. err. vs eager {row['rel_err_vs_eager']:.2e}", flush=True)
            save()
            del fns
            torch._dynamo.reset()  # compiled / graphed copies go; the next mode starts clean
    save()
    if warm_only:
        return result
    print_tables(result, setup)
    if profile:
        result["profiles"] = profiles(models, inputs, setup, calls=1 if result["dry_run"] else 5)
    save()
    return result


def ratios(rows: list[dict]) -> dict:
    """This run's ratios (None where a row is missing): aan_s's large-batch throughput over each
    peer's, per mode; aan_s's batch-1 latency per mode, and the best one with CUDA graphs."""
    at = {(r["mode"], r["model"], r["batch"]): r for r in rows}
    large = max((r["batch"] for r in rows), default=None)
    small = min((r["batch"] for r in rows), default=None)
    out: dict = {}
    for mode in MODES:
        for peer in ("mobilenet_v3_large", "efficientnet_b0"):
            a, p = at.get((mode, "aan_s", large)), at.get((mode, peer, large))
            out[f"{mode}_throughput_vs_{peer}"] = round(a["images_per_s"] / p["images_per_s"], 3) if a and p else None
        r = at.get((mode, "aan_s", small))
        out[f"aan_s_latency_{mode}_ms"] = r["ms"] if r else None
    graphs = [r["ms"] for r in rows if r["model"] == "aan_s" and r["batch"] == small and r.get("cuda_graphs")]
    out["aan_s_latency_graphs_ms"] = min(graphs) if graphs else None
    return out


def targets(r: dict, setup: Setup) -> list[dict]:
    """The issue-14 targets with this run's values: what, measured, target, verdict."""
    items = [
        (f"aan_s b{setup.large} compiled throughput / MobileNetV3-Large's", r.get("compiled_throughput_vs_mobilenet_v3_large"),
         ">=", TARGETS["b256_vs_mobilenet_v3_large"], "x"),
        (f"aan_s b{setup.large} compiled throughput / EfficientNet-B0's", r.get("compiled_throughput_vs_efficientnet_b0"),
         ">=", TARGETS["b256_vs_efficientnet_b0"], "x"),
        (f"aan_s b{setup.small} latency with CUDA graphs", r.get("aan_s_latency_graphs_ms"), "<=", TARGETS["b1_graph_ms"], " ms"),
    ]
    return [{"what": what, "measured": v, "op": op, "target": t, "unit": unit,
             "verdict": _verdict(v, t, at_least=op == ">=")} for what, v, op, t, unit in items]


def print_tables(result: dict, setup: Setup) -> None:
    rows = result["rows"]
    at = {(r["mode"], r["model"], r["batch"]): r for r in rows}
    names = list(dict.fromkeys(r["model"] for r in rows))
    lines = []
    for mode in MODES:
        for name in names:
            s, l = at.get((mode, name, setup.small)), at.get((mode, name, setup.large))
            if not s and not l:
                continue
            rel = lambda peer: (f"{l['images_per_s'] / at[mode, peer, setup.large]['images_per_s']:.2f}x"  # noqa: E731
                                if l and (mode, peer, setup.large) in at else "-")
            lines.append((mode, name, f"{s['ms']:.3f}" if s else "-", f"{l['images_per_s']:.0f}" if l else "-",
                          rel("mobilenet_v3_large"), rel("efficientnet_b0"),
                          f"{max(r['rel_err_vs_eager'] for r in (s, l) if r):.1e}"))
    where = result["device_name"] + (" (DRY RUN: toy sizes, numbers mean nothing)" if result["dry_run"] else "")
    table(f"{where}, {'bf16 autocast' if setup.amp else 'fp32'}, channels_last, {setup.size}x{setup.size}; b{setup.small}: median latency "
          f"of one call; b{setup.large}: throughput", lines,
          ("mode", "model", f"b{setup.small} ms", f"b{setup.large} img/s", "vs MNv3-L", "vs EffNet-B0",
           "rel. err. vs eager"))
    print("\nissue-14 targets (this run):")
    for t in result["targets"]:
        print(f"  {t['what']}: {_fmt(t['measured'], t['unit'])} (target {t['op']} {t['target']}{t['unit']}) {t['verdict']}")


def _fmt(v, unit: str) -> str:
    return "n/a" if v is None else f"{v:.3f}{unit}"


def _verdict(v, target: float, *, at_least: bool) -> str:
    if v is None:
        return "NOT MEASURED"
    return "MET" if (v >= target if at_least else v <= target) else "MISSED"


def profiles(models: dict, inputs: dict, setup: Setup, calls: int = 5) -> dict[str, str]:
    """Where aan_s's time goes: kernels of the compiled large batch and of the eager batch 1."""
    from torch.profiler import ProfilerActivity, profile

    out: dict[str, str] = {}
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if setup.device == "cuda" else [])
    key = "self_device_time_total" if setup.device == "cuda" else "self_cpu_time_total"
    for label, batch, mode in (("aan_s compiled b%d" % setup.large, setup.large, "compiled"),
                               ("aan_s eager b%d" % setup.small, setup.small, "eager")):
        try:
            x = inputs[batch]
            with torch.inference_mode(), autocast(setup.device, setup.amp):
                fn = _runner(mode, models["aan_s"], setup, batch, x)
                for _ in range(3 if calls > 1 else 1):
                    fn(x)
                timer(setup.device)
                with profile(activities=acts) as prof:
                    for _ in range(calls):
                        fn(x)
                    timer(setup.device)
            text = prof.key_averages().table(sort_by=key, row_limit=15)
        except Exception as e:  # a profile is a diagnosis, never a reason to lose the measurements
            text = f"profile failed: {type(e).__name__}: {e}"
        out[label] = text
        print(f"\nprofile, {label} ({calls} calls, sorted by {key}):\n{text}", flush=True)
        torch._dynamo.reset()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cpu (cuda with --warm-only)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--models", default=",".join(PEERS), help=f"comma-separated subset of {', '.join(PEERS)}")
    p.add_argument("--json", type=Path, help="write the accelerated report's rows and ratios here (after each mode)")
    p.add_argument("--profile", action="store_true", help="torch.profiler tables of aan_s after the measurements")
    p.add_argument("--warm-only", action="store_true", help="compile every compiled variant once and exit")
    p.add_argument("--dry-run", action="store_true",
                   help="the --device cuda report's code at toy sizes (CPU by default; compile backend 'eager')")
    p.add_argument("--large-mode", default="default", help="torch.compile mode at batch 256 (default: default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(PEERS))
    if unknown:
        p.error(f"unknown model {unknown[0]!r} (known: {', '.join(PEERS)})")
    device = args.device or ("cpu" if args.dry_run else "cuda" if args.warm_only else "cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            print("--device cuda: no CUDA device here", file=sys.stderr)
            return 2
        torch.backends.cudnn.benchmark = True
    if args.dry_run:
        setup = Setup(device=device, small=1, large=4, size=32, repeats=1, repeats_large=1, warmup=0, backend="eager",
                      amp=device == "cuda")
    elif device == "cuda":
        setup = Setup(device="cuda", repeats=args.repeats, repeats_large=max(5, args.repeats // 5),
                      large_mode=args.large_mode)
    else:
        cpu_report(args)
        return 0
    accel_report(setup, names, json_path=args.json, warm_only=args.warm_only, profile=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
