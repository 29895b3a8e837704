"""How fast the formula generator feeds pretraining: images/s on one core, by size and channels."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from training.formula_images import categories, render  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    categories(1000)
    print(f"finding 1000 categories: {time.perf_counter() - t0:.1f} s (once per process)")
    print("| size | channels | images/s per core | ms/image |")
    print("|---|---|---|---|")
    for size, chans in ((64, 1), (96, 1), (128, 1), (96, 3)):
        n = 200
        t0 = time.perf_counter()
        for i in range(n):
            render(i % 1000, i // 1000, size=size, count=1000, in_chans=chans)
        dt = time.perf_counter() - t0
        print(f"| {size} | {chans} | {n / dt:.0f} | {1000 * dt / n:.2f} |")


if __name__ == "__main__":
    main()
