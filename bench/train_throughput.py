"""Training throughput, images/s per process: aan_s vs torchvision efficientnet_b0, trained the same way.

Same batch, input size, loss (cross-entropy with label smoothing 0.1), AdamW, synthetic inputs (the
model's speed, not the input pipeline's); a few warm-up steps, then timed steps, the two models'
steps alternating; the median step time is reported.

    python bench/train_throughput.py                      # CPU, fp32
    python bench/train_throughput.py --device cuda        # bf16 autocast + channels_last, eager and torch.compile,
                                                          # plus the estimated ImageNet-1K epoch time on 8 GPUs
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

IMAGENET_TRAIN_IMAGES = 1_281_167


def build(name: str, num_classes: int):
    if name == "aan_s":
        from core.model import create_model

        return create_model("aan_s", num_classes)
    import torchvision

    return torchvision.models.efficientnet_b0(num_classes=num_classes)


class Trainer:
    """One model, its optimiser and a fixed synthetic batch; step() is one training step."""

    def __init__(self, name: str, *, device: str, batch: int, size: int, bf16: bool, channels_last: bool,
                 compile: bool, num_classes: int = 1000):
        torch.manual_seed(0)
        self.device, self.bf16 = device, bf16
        self.model = build(name, num_classes).to(device).train()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.step_model = torch.compile(self.model) if compile else self.model
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=0.05, fused=device == "cuda")
        self.x = torch.randn(batch, 3, size, size, device=device)
        if channels_last:
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.y = torch.randint(0, num_classes, (batch,), device=device)
        self.times: list[float] = []

    def step(self, timed: bool) -> None:
        t0 = time.perf_counter()
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.step_model(self.x)
        loss = F.cross_entropy(logits.float(), self.y, label_smoothing=0.1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.device == "cuda":
            torch.cuda.synchronize()
        if timed:
            self.times.append(time.perf_counter() - t0)


def measure(names, *, device: str, batch: int, size: int, warmup: int, steps: int, bf16: bool, channels_last: bool,
            compile: bool) -> list[float]:
    """images/s per model. Steps of the models alternate, so on a shared machine both see the same
    background load (measuring one model after the other can flip the ratio)."""
    trainers = [Trainer(n, device=device, batch=batch, size=size, bf16=bf16, channels_last=channels_last,
                        compile=compile) for n in names]
    for i in range(warmup + steps):
        for t in trainers:
            t.step(timed=i >= warmup)
    return [batch / statistics.median(t.times) for t in trainers]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--batch", type=int, default=None, help="per process (default 16 on CPU, 256 on CUDA)")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--gpus", type=int, default=8, help="for the ImageNet epoch estimate")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    batch = args.batch or (256 if args.device == "cuda" else 16)
    models = ("aan_s", "efficientnet_b0")
    if args.device == "cpu":
        variants = [("fp32", False, False, False)]
    else:
        if not torch.cuda.is_available():
            print("no CUDA device", file=sys.stderr)
            return 2
        torch.backends.cudnn.benchmark = True
        variants = [("bf16+cl", True, True, False), ("bf16+cl+compile", True, True, True)]

    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"training throughput, images/s per process: batch {batch}, {args.size}x{args.size}, AdamW, "
          f"{args.warmup} warm-up + {args.steps} timed steps (median), {where}")
    header = f"{'variant':<18}" + "".join(f"{m:>17}" for m in models) + f"{'aan_s / effb0':>15}"
    if args.device == "cuda":
        header += f"   ImageNet-1K epoch on {args.gpus} GPUs (aan_s)"
    print(header)
    for label, bf16, cl, comp in variants:
        rates = measure(models, device=args.device, batch=batch, size=args.size, warmup=args.warmup, steps=args.steps,
                        bf16=bf16, channels_last=cl, compile=comp)
        line = f"{label:<18}" + "".join(f"{r:>17.1f}" for r in rates) + f"{rates[0] / rates[1]:>15.2f}"
        if args.device == "cuda":
            # Linear scaling over GPUs, compute only: assumes the input pipeline keeps up and DDP
            # all-reduce overlaps with backward (true for a 4 M-parameter model on NVLink).
            seconds = IMAGENET_TRAIN_IMAGES / (rates[0] * args.gpus)
            line += f"   {seconds / 60:.1f} min"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
