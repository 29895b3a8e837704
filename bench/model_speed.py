"""Model speed: aan_s against torchvision's EfficientNet-B0 and MobileNetV3-Large, same run, random weights.

CPU (default): batch-1 latency (median) and batch-32 throughput, fp32, measured round-robin so that
machine noise hits every model alike. `--device cuda`: bf16 autocast + channels_last at batch 1 and
256, eager and torch.compile'd (batch 1 compiled with mode="reduce-overhead", i.e. CUDA graphs).

    python bench/model_speed.py [--device cpu|cuda] [--threads N] [--repeats R]
"""
from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import torch
import torchvision

from core.model import create_model
from core.model.complexity import count_gmacs, count_params

PEERS = {
    "aan_s": lambda: create_model("aan_s", 1000),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    "mobilenet_v3_large": lambda: torchvision.models.mobilenet_v3_large(),
}


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


def cuda_report(args) -> None:
    rows = []
    for label, mode1, mode256 in [("eager", None, None), ("compiled", "reduce-overhead", "max-autotune-no-cudagraphs")]:
        lat = measure(build("cuda", mode1), 1, "cuda", True, args.repeats, 20)
        thr = measure(build("cuda", mode256), 256, "cuda", True, max(5, args.repeats // 5), 5)
        for name in PEERS:
            rows.append((label, name, f"{lat[name] * 1e3:.3f}", f"{256 / thr[name]:.0f}",
                         f"{thr['mobilenet_v3_large'] / thr[name]:.2f}x", f"{thr['efficientnet_b0'] / thr[name]:.2f}x"))
        torch._dynamo.reset()
    table(f"CUDA ({torch.cuda.get_device_name()}), bf16 autocast, channels_last, 224x224", rows,
          ("mode", "model", "b1 ms", "b256 img/s", "b256 vs MNv3-L", "b256 vs EffNet-B0"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device here")
        torch.backends.cudnn.benchmark = True
        cuda_report(args)
    else:
        cpu_report(args)


if __name__ == "__main__":
    main()
